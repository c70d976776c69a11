"""Lab computers: admins register them and get agent tokens shown once; members only look."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from pybirch.database.errors import DuplicateError, NotFoundError
from pybirch.database.models import Role
from web_support import client_for, post_form

TOKEN = re.compile(r"pbc_[A-Za-z0-9_-]+")


@pytest.fixture
def lab(db):
    return db.create_lab("Computers Lab")


# -- the service ------------------------------------------------------------------------


def test_a_computer_token_is_stored_only_as_its_hash(db, lab):
    computer, token = db.create_computer(lab.id, "  cryostat-pc  ")
    assert token.startswith("pbc_")
    assert computer.computer_name == "cryostat-pc"
    assert computer.computer_id is None  # the machine id comes with the agent's first report
    with db.engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM computers WHERE id = :id"), {"id": computer.id}
        ).one()
    assert token not in " ".join(str(value) for value in row)
    assert db.computer_for_token(token).id == computer.id
    assert db.computer_for_token("") is None
    assert db.computer_for_token("pbc_unknown") is None


def test_names_are_checked_and_unique_within_a_lab(db, lab):
    db.create_computer(lab.id, "cryostat-pc")
    with pytest.raises(DuplicateError, match="already has"):
        db.create_computer(lab.id, " cryostat-pc ")
    with pytest.raises(ValueError, match="needs a name"):
        db.create_computer(lab.id, "   ")
    with pytest.raises(ValueError, match="at most 100"):
        db.create_computer(lab.id, "x" * 101)
    other = db.create_lab("Other Lab")
    db.create_computer(other.id, "cryostat-pc")  # another lab may use the name
    assert [c.computer_name for c in db.list_computers(lab.id)] == ["cryostat-pc"]


def test_computers_are_listed_by_name_reset_and_deleted(db, lab):
    b, old = db.create_computer(lab.id, "b-pc")
    a, _ = db.create_computer(lab.id, "a-pc")
    assert [c.id for c in db.list_computers(lab.id)] == [a.id, b.id]
    new = db.reset_computer_token(b.id)
    assert new != old
    assert db.computer_for_token(old) is None
    assert db.computer_for_token(new).id == b.id
    db.delete_computer(b.id)
    with pytest.raises(NotFoundError):
        db.get_computer(b.id)
    assert db.computer_for_token(new) is None


def test_presence_records_online_state_and_what_the_agent_reports(db, lab):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    info = {"platform": "Linux-6.1", "username": "lab", "instruments": ["dmm", "stage"]}
    seen = db.record_computer_presence(computer.id, online=True, info=info)
    assert seen.extra_data == {"online": True, "agent": info}
    assert (seen.platform, seen.username) == ("Linux-6.1", "lab")
    assert seen.last_seen is not None
    db.record_computer_presence(computer.id, online=False)
    stored = db.get_computer(computer.id)
    assert stored.extra_data == {"online": False, "agent": info}
    assert stored.platform == "Linux-6.1"
    assert stored.last_seen >= seen.last_seen


# -- the pages --------------------------------------------------------------------------


def test_an_admin_adds_a_computer_and_sees_its_token_and_command_once(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/computers/?lab={lab.id}", name="cryostat-pc").get_data(as_text=True)
    token = TOKEN.search(page).group(0)
    assert f"pybirch agent --server http://localhost --token {token}" in page
    assert "will not be shown again" in page
    assert db.computer_for_token(token).computer_name == "cryostat-pc"
    again = admin.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    assert "cryostat-pc" in again
    assert token not in again


def test_a_new_token_replaces_the_old_one(db, lab):
    computer, old = db.create_computer(lab.id, "cryostat-pc")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/computers/{computer.id}/token").get_data(as_text=True)
    new = TOKEN.search(page).group(0)
    assert new != old
    assert db.computer_for_token(old) is None
    assert db.computer_for_token(new).id == computer.id


def test_an_admin_removes_a_computer(db, lab):
    computer, token = db.create_computer(lab.id, "cryostat-pc")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    assert "removed" in post_form(admin, f"/computers/{computer.id}/remove").get_data(as_text=True)
    assert db.list_computers(lab.id) == []
    assert db.computer_for_token(token) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required"), ("x" * 101, "100 characters"), ("cryostat-pc", "already")],
)
def test_bad_names_are_refused_with_a_message(db, lab, name, message):
    db.create_computer(lab.id, "cryostat-pc")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/computers/?lab={lab.id}", name=name).get_data(as_text=True)
    assert message in page
    assert not TOKEN.search(page)
    assert len(db.list_computers(lab.id)) == 1


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_see_the_list_but_cannot_manage(db, lab, role):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    client = client_for(db, lab, "mo", role)
    page = client.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    assert "cryostat-pc" in page
    assert "Add a computer" not in page
    assert "New token" not in page
    assert post_form(client, f"/computers/?lab={lab.id}", name="x").status_code == 403
    assert post_form(client, f"/computers/{computer.id}/token").status_code == 403
    assert post_form(client, f"/computers/{computer.id}/remove").status_code == 403
    assert [c.computer_name for c in db.list_computers(lab.id)] == ["cryostat-pc"]


def test_a_user_of_another_lab_gets_404(db, lab):
    computer, token = db.create_computer(lab.id, "secret-pc")
    other = db.create_lab("Other Lab")
    stranger = client_for(db, other, "sam", Role.OWNER)
    assert "secret-pc" not in stranger.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    assert post_form(stranger, f"/computers/?lab={lab.id}", name="x").status_code == 404
    assert post_form(stranger, f"/computers/{computer.id}/token").status_code == 404
    assert post_form(stranger, f"/computers/{computer.id}/remove").status_code == 404
    assert post_form(stranger, "/computers/999999/remove").status_code == 404
    assert db.computer_for_token(token).id == computer.id


def test_the_list_shows_online_and_offline_computers(db, lab):
    up, _ = db.create_computer(lab.id, "up-pc")
    db.create_computer(lab.id, "down-pc")
    db.record_computer_presence(
        up.id, online=True, info={"platform": "Windows-11", "instruments": ["a", "b", "c"]}
    )
    client = client_for(db, lab, "viv", Role.VIEWER)
    page = client.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    rows = {name: row for name, row in re.findall(r"<tr>\s*<td>([\w-]+)(.*?)</tr>", page, re.S)}
    assert "online" in rows["up-pc"]
    assert "Windows-11" in rows["up-pc"]
    assert "3 · Instruments</a>" in rows["up-pc"]
    assert "offline" in rows["down-pc"]
    assert "0 · Instruments</a>" in rows["down-pc"]


def test_the_navigation_links_to_computers(db, lab):
    client = client_for(db, lab, "viv", Role.VIEWER)
    assert 'href="/computers/"' in client.get("/").get_data(as_text=True)


# -- identity, nickname and location ------------------------------------------------------

REPORT = {
    "computer_name": "raman-host",
    "computer_id": "machine-1",
    "username": "researcher",
    "os": "Windows",
    "platform": "Windows-11-10.0.22631",
}


def computer_row(page: str, name: str) -> str:
    """The table row whose first cell starts with ``name``."""
    rows = dict(re.findall(r"<tr>\s*<td>([^<]+)(.*?)</tr>", page, re.S))
    return rows[name]


def test_the_list_shows_what_a_computer_reported_and_what_the_lab_calls_it(db, lab):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    db.record_computer_presence(computer.id, online=True, info=REPORT)
    db.update_computer(computer.id, nickname="Cryostat", location="Room 2.14")
    client = client_for(db, lab, "viv", Role.VIEWER)
    row = computer_row(client.get(f"/computers/?lab={lab.id}").get_data(as_text=True), "Cryostat")
    for shown in ("cryostat-pc", "raman-host", "Windows", "researcher", "Room 2.14", "online"):
        assert shown in row
    assert "machine-1" not in row  # the machine id is the database's, not the page's


def test_an_admin_sets_nickname_and_location(db, lab):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    listing = admin.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    assert f'action="/computers/{computer.id}/edit"' in listing

    page = post_form(
        admin, f"/computers/{computer.id}/edit", nickname=" Cryostat ", location="Room 2.14"
    ).get_data(as_text=True)

    assert "Cryostat saved." in page
    assert "Room 2.14" in computer_row(page, "Cryostat")
    stored = db.get_computer(computer.id)
    assert (stored.nickname, stored.location) == ("Cryostat", "Room 2.14")

    cleared = post_form(admin, f"/computers/{computer.id}/edit", nickname="", location="")
    assert "cryostat-pc saved." in cleared.get_data(as_text=True)
    stored = db.get_computer(computer.id)
    assert (stored.nickname, stored.location) == (None, None)


def test_a_field_left_out_is_kept(db, lab):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    db.update_computer(computer.id, nickname="Cryostat", location="Room 2.14")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    post_form(admin, f"/computers/{computer.id}/edit", location="Room 3")
    stored = db.get_computer(computer.id)
    assert (stored.nickname, stored.location) == ("Cryostat", "Room 3")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nickname": "n" * 101}, "Nickname: Field cannot be longer than 100 characters"),
        ({"location": "l" * 256}, "Location: Field cannot be longer than 255 characters"),
        ({"nickname": "other-pc"}, "another computer of the lab is called"),
    ],
)
def test_bad_details_are_refused_with_a_message(db, lab, fields, message):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    db.create_computer(lab.id, "other-pc")
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/computers/{computer.id}/edit", **fields).get_data(as_text=True)
    assert message in page
    stored = db.get_computer(computer.id)
    assert (stored.nickname, stored.location) == (None, None)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_see_the_details_but_cannot_edit_them(db, lab, role):
    computer, _ = db.create_computer(lab.id, "cryostat-pc")
    db.update_computer(computer.id, location="Room 2.14")
    client = client_for(db, lab, "mo", role)
    page = client.get(f"/computers/?lab={lab.id}").get_data(as_text=True)
    assert "Room 2.14" in page
    assert "/edit" not in page
    response = post_form(client, f"/computers/{computer.id}/edit", nickname="Mine")
    assert response.status_code == 403
    assert db.get_computer(computer.id).nickname is None


def test_another_labs_admin_cannot_edit(db, lab):
    computer, _ = db.create_computer(lab.id, "secret-pc")
    stranger = client_for(db, db.create_lab("Other Lab"), "sam", Role.OWNER)
    assert post_form(stranger, f"/computers/{computer.id}/edit", nickname="x").status_code == 404
    assert db.get_computer(computer.id).nickname is None
