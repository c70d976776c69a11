"""The account page: changing one's password, making and revoking personal tokens."""

from __future__ import annotations

import re

import pytest

from pybirch.database.models import Role
from pybirch.web.auth.passwords import verify_password
from web_support import PASSWORD, add_member, csrf_token, log_in, make_app


@pytest.fixture
def client(db):
    lab = db.create_lab("Account Lab")
    add_member(db, lab.id, "ann", Role.MEMBER)
    client = make_app(db).test_client()
    log_in(client, "ann")
    return client


def post(client, path: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/account/")})


def test_a_user_changes_their_password_after_giving_the_current_one(db, client):
    wrong = post(
        client,
        "/account/password",
        current="nope",
        new="a much better one",
        repeat="a much better one",
    )
    assert wrong.status_code == 400
    assert "not your current password" in wrong.get_data(as_text=True)
    mismatch = post(
        client, "/account/password", current=PASSWORD, new="a much better one", repeat="another"
    )
    assert "the passwords differ" in mismatch.get_data(as_text=True)
    short = post(client, "/account/password", current=PASSWORD, new="short", repeat="short")
    assert short.status_code == 400
    done = post(
        client,
        "/account/password",
        current=PASSWORD,
        new="a much better one",
        repeat="a much better one",
    )
    assert done.status_code == 302
    assert verify_password(db.get_user_by_username("ann").password_hash, "a much better one")


def test_a_token_is_shown_once_works_for_the_api_and_can_be_revoked(db, client):
    page = client.get(
        post(client, "/account/tokens", name="notebook").headers["Location"]
    ).get_data(as_text=True)
    token = re.search(r"(pbt_[A-Za-z0-9_-]+)", page).group(1)
    api = make_app(db).test_client()
    assert api.get("/api/v1/labs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in client.get("/account/").get_data(as_text=True)  # shown once only

    record = db.list_api_tokens(db.get_user_by_username("ann").id)[0]
    post(client, f"/account/tokens/{record.id}/revoke")
    assert api.get("/api/v1/labs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked" in client.get("/account/").get_data(as_text=True)
