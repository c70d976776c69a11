"""Headers, HTTPS cookies, CSRF with bearer tokens, user names, request size, member adding."""

from __future__ import annotations

import re

import pytest

from pybirch.database.models import Role
from pybirch.web import create_app
from pybirch.web.auth import passwords
from pybirch.web.config import WebConfig
from web_support import add_member, client_for, csrf_token, log_in, post_form


@pytest.fixture
def lab(db):
    return db.create_lab("Secure Lab")


def app_with(db, **settings: object):
    return create_app(db, WebConfig(secret_key="test-secret", **settings))


@pytest.mark.parametrize("path", ["/login", "/api/v1/openapi.json", "/static/pybirch.css"])
def test_every_response_carries_the_security_headers(db, path):
    response = app_with(db).test_client().get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def session_cookie(db, lab, behind_proxy: bool, **request: object) -> str:
    add_member(db, lab.id, "alice", Role.MEMBER)
    client = app_with(db, behind_proxy=behind_proxy).test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery", "csrf_token": token},
        **request,
    )
    assert response.status_code == 302
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def test_the_session_cookie_is_secure_over_https(db, lab):
    # Over HTTPS, Flask-WTF also wants a same-site Referer, as browsers send.
    cookie = session_cookie(
        db, lab, False, base_url="https://localhost", headers={"Referer": "https://localhost/"}
    )
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie


def test_behind_a_proxy_its_forwarded_https_makes_the_cookie_secure(db, lab):
    https = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/"}
    assert "; Secure" in session_cookie(db, lab, True, headers=https)


def test_without_the_proxy_setting_a_forwarded_proto_header_is_not_believed(db, lab):
    https = {"X-Forwarded-Proto": "https"}
    assert "; Secure" not in session_cookie(db, lab, False, headers=https)


def test_a_bearer_header_does_not_excuse_a_session_cookie_from_csrf(db, lab):
    queue = db.create_queue("q", lab_id=lab.id)
    member = client_for(db, lab, "mo", Role.MEMBER)
    for header in ("Bearer junk", "Bearer pbt_not-a-real-token"):
        response = member.post(
            f"/api/v1/queues/{queue.id}/pause", headers={"Authorization": header}
        )
        assert response.status_code == 400
        assert "CSRF" in response.get_json()["error"]["message"]
    _, token = db.create_api_token(db.get_user_by_username("mo").id, "script")
    with_both = member.post(
        f"/api/v1/queues/{queue.id}/pause", headers={"Authorization": f"Bearer {token}"}
    )
    assert with_both.status_code == 400


def test_a_valid_token_alone_needs_no_csrf_token_and_a_bad_one_is_refused(db, lab):
    queue = db.create_queue("q", lab_id=lab.id)
    mo = add_member(db, lab.id, "mo", Role.MEMBER)
    _, token = db.create_api_token(mo, "script")
    client = app_with(db).test_client()
    good = client.post(
        f"/api/v1/queues/{queue.id}/pause", headers={"Authorization": f"Bearer {token}"}
    )
    assert good.status_code not in (400, 401)
    bad = client.post(f"/api/v1/queues/{queue.id}/pause", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401


def test_a_user_name_with_a_trailing_newline_is_refused(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/labs/{lab.id}/members", username="ada\n", role="member")
    assert "letters, digits" in page.get_data(as_text=True)
    assert [u.username for u in db.search_users().items] == ["ada"]


def test_adding_a_member_answers_the_same_for_existing_and_new_names(db, lab, monkeypatch):
    hashes = []
    real_hash = passwords.hash_password
    monkeypatch.setattr(
        "pybirch.web.blueprints.admin.hash_password",
        lambda password: hashes.append(password) or real_hash(password),
    )
    db.create_user("bob", display_name=None)
    outsider_lab = db.create_lab("Outsider Lab")
    admin = client_for(db, outsider_lab, "mallory", Role.OWNER)

    def answer(name: str) -> str:
        page = post_form(admin, f"/labs/{outsider_lab.id}/members", username=name, role="member")
        assert page.status_code == 200
        flashes = re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', page.get_data(as_text=True), re.S)
        return " ".join(flashes).replace(name, "NAME")

    existing, new = answer("bob"), answer("newcomer")
    assert "one-time password" in new
    masked = re.compile(r"one-time password (\S+):")
    assert masked.sub("PASSWORD", existing) == masked.sub("PASSWORD", new)
    assert len(hashes) == 2
    password = masked.search(new).group(1)
    assert log_in(app_with(db).test_client(), "newcomer", password).status_code == 302
    assert (
        log_in(app_with(db).test_client(), "bob", masked.search(existing).group(1)).status_code
        == 401
    )


def test_an_admin_cannot_create_an_account_by_granting_owner(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/labs/{lab.id}/members", username="newowner", role="owner")
    assert page.status_code == 403
    assert db.get_user_by_username("newowner") is None


def test_a_request_larger_than_the_limit_gets_413(db, lab):
    add_member(db, lab.id, "mo", Role.MEMBER)
    client = app_with(db, max_content_length=1024).test_client()
    log_in(client, "mo")
    big = "x" * 2048
    api = client.post("/api/v1/queues/1/pause", data=big, content_type="application/json")
    assert api.status_code == 413
    assert api.get_json()["error"]["code"] == 413
    page = client.post("/labs/", data={"name": big, "csrf_token": csrf_token(client, "/")})
    assert page.status_code == 413
    assert "too large" in page.get_data(as_text=True)


def test_the_members_list_shows_nothing_from_before_a_name_was_added(db, lab):
    from datetime import timedelta

    from pybirch.database.models import utcnow

    bob = db.create_user("bob", display_name="Robert Existing")
    db.update_user(bob.id, last_login_at=utcnow() - timedelta(days=3))
    outsider_lab = db.create_lab("Outsider Lab")
    admin = client_for(db, outsider_lab, "mallory", Role.OWNER)
    post_form(admin, f"/labs/{outsider_lab.id}/members", username="bob", role="member")
    post_form(admin, f"/labs/{outsider_lab.id}/members", username="newcomer", role="member")

    page = admin.get(f"/labs/{outsider_lab.id}/members").get_data(as_text=True)
    rows = {
        name: re.search(rf"<tr>\s*<td>{name}</td>(.*?)</tr>", page, re.S)
        for name in ("bob", "newcomer")
    }
    assert "Robert Existing" not in page
    shown = {
        name: re.sub(
            r"\d{4}-\d\d-\d\d \d\d:\d\d|/members/\d+/|user-\d+", "X", row.group(1)
        ).replace(name, "NAME")
        for name, row in rows.items()
    }
    assert shown["bob"] == shown["newcomer"]
