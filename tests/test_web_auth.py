"""Logging in and out, CSRF, throttling, lab roles on the dashboard, the first admin."""

from __future__ import annotations

import re
import urllib.request

import pytest

from browser_support import running_server
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.web.auth.passwords import PasswordPolicyError, hash_password, verify_password
from pybirch.web.first_run import ensure_first_admin
from web_support import PASSWORD, add_member, csrf_token, log_in, make_app


@pytest.fixture
def lab(db: DatabaseService):
    return db.create_lab("Graphene Lab")


@pytest.fixture
def client(db: DatabaseService):
    return make_app(db).test_client()


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_member_logs_in_sees_the_lab_dashboard_and_logs_out(db, lab, client):
    add_member(db, lab.id, "alice", Role.MEMBER)
    db.create_scan("IV sweep", lab_id=lab.id, project_name="Graphene", status="running")

    response = log_in(client, "alice")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Graphene Lab" in page
    assert "IV sweep" in page
    assert db.get_user_by_username("alice").last_login_at is not None

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(db, lab, client):
    add_member(db, lab.id, "alice", Role.MEMBER)
    wrong_password = log_in(client, "alice", "not the password")
    no_such_user = log_in(client, "mallory", PASSWORD)
    for response in (wrong_password, no_such_user):
        assert response.status_code == 401
        assert "Wrong user name or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_posts_without_the_csrf_token_are_refused(db, lab, client):
    add_member(db, lab.id, "alice", Role.MEMBER)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_needs_a_post_with_the_token(db, lab, client):
    add_member(db, lab.id, "alice", Role.MEMBER)
    log_in(client, "alice")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_repeated_failures_lock_the_name_for_a_while(db, lab):
    client = make_app(db, attempts=3).test_client()
    add_member(db, lab.id, "alice", Role.MEMBER)
    for _ in range(3):
        assert log_in(client, "alice", "guess").status_code == 401
    locked = log_in(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert client.get("/").status_code == 302
    assert log_in(client, "bob", "guess").status_code == 401  # other names are not locked


def test_a_login_never_redirects_to_another_site(db, lab, client):
    add_member(db, lab.id, "alice", Role.MEMBER)
    token = csrf_token(client)
    response = client.post(
        "/login?next=https://evil.example/steal",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_the_dashboard_never_shows_a_lab_the_user_is_not_in(db, lab, client):
    other = db.create_lab("Secret Lab")
    db.create_scan("secret scan", lab_id=other.id)
    add_member(db, lab.id, "alice", Role.VIEWER)
    log_in(client, "alice")

    page = client.get(f"/?lab={other.id}").get_data(as_text=True)
    assert "Graphene Lab" in page
    assert "Secret Lab" not in page
    assert "secret scan" not in page


def test_a_user_in_no_lab_is_told_so(db, client):
    db.create_user("newcomer", password_hash=hash_password(PASSWORD))
    log_in(client, "newcomer")
    assert "You are not in a lab yet" in client.get("/").get_data(as_text=True)


def test_passwords_are_argon2_hashes_and_short_ones_are_refused():
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(PasswordPolicyError):
        hash_password("short")


def test_the_first_start_makes_one_admin_who_owns_a_lab(db):
    first = ensure_first_admin(db)
    assert first is not None
    admin = db.get_user_by_username(first.username)
    assert verify_password(admin.password_hash, first.password)
    lab = db.get_lab_by_name(first.lab_name)
    assert db.get_role(lab.id, admin.id) is Role.OWNER
    assert ensure_first_admin(db) is None


def test_pybirch_serve_starts_a_real_server_that_asks_for_a_login(tmp_path):
    with running_server(tmp_path, "first admin password") as url:
        with urllib.request.urlopen(f"{url}/login", timeout=10) as response:
            page = response.read().decode()
        assert "Log in" in page
        assert re.search(r'name="csrf_token"', page)
    output = (tmp_path / "server.log").read_text()
    assert "Created lab 'My Lab' and its admin." in output
    assert "first admin password" not in output
    with DatabaseService(tmp_path / "pybirch.db") as db:
        admin = db.get_user_by_username("admin")
        assert verify_password(admin.password_hash, "first admin password")


def test_api_tokens_are_stored_hashed_work_until_revoked_and_only_for_their_owner(db, lab):
    alice = add_member(db, lab.id, "alice", Role.MEMBER)
    bob = add_member(db, lab.id, "bob", Role.MEMBER)
    record, token = db.create_api_token(alice, "analysis script")

    assert token.startswith("pbt_")
    assert token not in {record.token_hash, record.prefix}
    assert token.startswith(record.prefix)
    assert db.user_for_token(token).id == alice
    assert db.list_api_tokens(alice)[0].last_used_at is not None
    assert db.user_for_token(token + "x") is None

    assert not db.revoke_api_token(record.id, bob)
    assert db.revoke_api_token(record.id, alice)
    assert db.user_for_token(token) is None
    assert not db.revoke_api_token(record.id, alice)
