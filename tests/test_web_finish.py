"""What users see of roles and forms: viewers get no write actions, a refused picture keeps
the form and makes no sample, one-time passwords are replaced at the first login, and
destructive forms ask first."""

from __future__ import annotations

import io
import re

import pytest

from pybirch.database.models import Role
from pybirch.web.auth.passwords import verify_password
from web_support import client_for, csrf_token, log_in, make_app, post_form


@pytest.fixture
def lab(db):
    return db.create_lab("Finish Lab")


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_a_viewer_is_offered_no_write_action_that_a_member_is(db, lab):
    queue = db.create_or_reuse_queue("night", lab_id=lab.id)
    viewer = client_for(db, lab, "vic", Role.VIEWER)
    member = client_for(db, lab, "mia", Role.MEMBER)
    checks = {
        f"/samples/?lab={lab.id}": "New sample",
        f"/projects/?lab={lab.id}": "Create project",
        f"/?lab={lab.id}": "New scan",
    }
    for path, action in checks.items():
        assert action in page(member, path), path
        assert action not in page(viewer, path), path
    assert "You are a viewer in Finish Lab" in page(viewer, f"/samples/?lab={lab.id}")
    assert "You are a viewer in Finish Lab" in page(viewer, f"/projects/?lab={lab.id}")
    queue_page = page(viewer, f"/queues/{queue.id}")
    assert "lab members start, pause and abort" in queue_page
    assert "/start" not in queue_page


def post_sample(client, lab_id: int, picture: bytes, **fields: str):
    path = f"/labs/{lab_id}/samples/new"
    token = csrf_token(client, path)
    return client.post(
        path,
        data={**fields, "csrf_token": token, "image": (io.BytesIO(picture), "photo.png")},
        content_type="multipart/form-data",
    )


def test_a_file_that_is_no_picture_makes_no_sample_and_keeps_the_form(db, lab):
    member = client_for(db, lab, "mia", Role.MEMBER)
    fields = {
        "sample_id": "G-7",
        "material": "graphene",
        "tags": "hBN, gate",
        "description": "flake 3",
    }

    refused = post_sample(member, lab.id, b"this is a text file", **fields)
    text = refused.get_data(as_text=True)

    assert refused.status_code == 200
    assert db.get_sample_by_id("G-7", lab.id) is None
    assert "the file is not a picture (PNG, JPEG or TIFF)" in text
    assert "BytesIO" not in text
    assert "Nothing was saved" in text
    assert "choose the picture again" in text
    assert 'value="G-7"' in text
    assert 'value="graphene"' in text
    assert 'value="hBN, gate"' in text
    assert "flake 3" in text

    from test_web_samples import png  # a real picture this time: the same ID is free

    created = post_sample(member, lab.id, png(), **fields)
    assert created.status_code == 302
    stored = db.get_sample_by_id("G-7", lab.id)
    assert (stored.material, stored.additional_tags, stored.image_png is not None) == (
        "graphene",
        ["hBN", "gate"],
        True,
    )


def new_member(db, lab) -> tuple[str, str]:
    """An admin adds a member; the user name and the one-time password shown."""
    admin = client_for(db, lab, "ada", Role.ADMIN)
    added = post_form(admin, f"/labs/{lab.id}/members", username="newbie", role="member")
    password = re.search(r"one-time password (\S+):", added.get_data(as_text=True)).group(1)
    return "newbie", password


def test_a_one_time_password_must_be_replaced_before_any_page(db, lab):
    name, one_time = new_member(db, lab)
    assert db.get_user_by_username(name).must_change_password
    _, token = db.create_api_token(db.get_user_by_username(name).id, "script")

    browser = make_app(db).test_client()
    login = log_in(browser, name, one_time)
    assert login.headers["Location"].endswith("/") or "dashboard" in login.headers["Location"]
    for path in ("/", f"/samples/?lab={lab.id}", "/account/"):
        answer = browser.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].endswith("/account/new-password"), path
    assert browser.get("/api/v1/labs").status_code == 403
    # A token is not the one-time password: scripts go on working.
    by_token = browser.application.test_client().get(
        "/api/v1/labs", headers={"Authorization": f"Bearer {token}"}
    )
    assert by_token.status_code == 200
    form = page(browser, "/account/new-password")
    assert "Choose your password" in form

    token_value = csrf_token(browser, "/account/new-password")
    mismatch = browser.post(
        "/account/new-password",
        data={"new": "a brand new secret", "repeat": "another one", "csrf_token": token_value},
    )
    assert mismatch.status_code == 400
    assert "the passwords differ" in mismatch.get_data(as_text=True)
    done = browser.post(
        "/account/new-password",
        data={
            "new": "a brand new secret",
            "repeat": "a brand new secret",
            "csrf_token": token_value,
        },
    )
    assert done.status_code == 302
    user = db.get_user_by_username(name)
    assert not user.must_change_password
    assert verify_password(user.password_hash, "a brand new secret")
    assert browser.get("/").status_code == 200  # the same browser stays logged in
    assert browser.get("/account/new-password").status_code == 302  # nothing left to change
    assert log_in(make_app(db).test_client(), name, one_time).status_code == 401


def test_destructive_forms_ask_for_confirmation(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    client_for(db, lab, "bob", Role.MEMBER)
    members = page(admin, f"/labs/{lab.id}/members")
    assert re.search(r'/remove"[^>]*data-confirm="Remove bob from Finish Lab\?', members)
    post_form(admin, "/account/tokens", name="notebook")
    account = page(admin, "/account/")
    assert 'data-confirm="Revoke the token notebook?' in account
    assert "confirm.js" in account  # the script that turns data-confirm into a dialog


def test_every_page_has_the_favicon_the_status_colours_and_the_phone_menu(db, lab):
    member = client_for(db, lab, "mia", Role.MEMBER)
    home = page(member, "/")
    assert 'rel="icon" type="image/svg+xml"' in home
    assert "favicon.svg" in home
    assert "status.css" in home
    assert 'id="menu-toggle"' in home
    assert 'for="menu-toggle"' in home
    assert member.get("/static/favicon.svg").status_code == 200
    colours = page(member, "/static/status.css")
    for status in (
        "queued",
        "running",
        "paused",
        "completed",
        "aborted",
        "failed",
        "interrupted",
        "idle",
        "stopping",
    ):
        assert re.search(rf"\.status\.{status}\b", colours), status
    css = page(member, "/static/pybirch.css")
    assert "prefers-color-scheme: dark" in css
    assert "max-width: 760px" in css
