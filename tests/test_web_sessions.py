"""Sessions end everywhere on logout and on a password change, and live a bounded time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner

from pybirch.database.models import Role
from web_support import PASSWORD, add_member, csrf_token, log_in, make_app

NEW_PASSWORD = "a much better one"


@pytest.fixture
def app(db):
    db.create_lab("Session Lab")
    add_member(db, db.get_lab_by_name("Session Lab").id, "alice", Role.MEMBER)
    return make_app(db)


def browser(app) -> FlaskClient:
    client = app.test_client()
    assert log_in(client, "alice").status_code == 302
    return client


def captured(app, client: FlaskClient) -> FlaskClient:
    """Another client that replays ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def logged_in(client: FlaskClient) -> bool:
    return client.get("/account/").status_code == 200


def test_logout_ends_every_session_of_the_user(app):
    laptop, phone = browser(app), browser(app)
    thief = captured(app, laptop)
    assert logged_in(thief)
    assert logged_in(phone)
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/")})
    assert not logged_in(laptop)
    assert not logged_in(thief)
    assert not logged_in(phone)
    assert logged_in(browser(app))


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    laptop, phone = browser(app), browser(app)
    thief = captured(app, laptop)
    response = laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": NEW_PASSWORD,
            "repeat": NEW_PASSWORD,
            "csrf_token": csrf_token(laptop, "/account/"),
        },
    )
    assert response.status_code == 302
    assert logged_in(laptop)
    assert not logged_in(thief)
    assert not logged_in(phone)


def test_a_session_ends_after_its_lifetime_and_no_remember_cookie_is_given(app, monkeypatch):
    assert app.permanent_session_lifetime == timedelta(hours=12)
    client = app.test_client()
    response = log_in(client, "alice")
    assert "remember_token" not in response.headers.get("Set-Cookie", "")
    assert client.get_cookie("remember_token") is None
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" in cookie  # a permanent session: its cookie and its signature expire
    # Sign the same session as if it had been made 13 hours ago: the server refuses it.
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        data = serializer.loads(client.get_cookie("session").value)
        now = TimestampSigner.get_timestamp(TimestampSigner(app.secret_key))
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 13 * 3600)
        old = serializer.dumps(data)
    monkeypatch.undo()
    stale = app.test_client()
    stale.set_cookie("session", old)
    assert not logged_in(stale)
    fresh = app.test_client()
    fresh.set_cookie("session", client.get_cookie("session").value)
    assert logged_in(fresh)


def test_a_first_run_password_reset_ends_the_old_sessions(app, db):
    from pybirch.database.errors import DatabaseError
    from pybirch.web.auth.passwords import hash_password
    from pybirch.web.first_run import ensure_first_admin

    admin_lab = db.create_lab("Reset Lab")
    admin_id = add_member(db, admin_lab.id, "admin", Role.OWNER)
    old = app.test_client()
    assert log_in(old, "admin").status_code == 302
    for user_id in (admin_id, db.get_user_by_username("alice").id):
        db.update_user(user_id, is_active=False)  # no one can log in: a first run again

    assert ensure_first_admin(db, "a fresh admin password") is not None
    assert not logged_in(old)
    with pytest.raises(DatabaseError, match="set_password"):
        db.update_user(admin_id, password_hash=hash_password("another password"))
