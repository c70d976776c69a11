"""Lab membership pages: admins add members and change roles; ownership stays safe."""

from __future__ import annotations

import re

import pytest

from pybirch.database.models import Role
from pybirch.web.auth.passwords import verify_password
from web_support import add_member, client_for, log_in, make_app, post_form


@pytest.fixture
def lab(db):
    return db.create_lab("Members Lab")


def test_an_admin_adds_a_new_user_who_can_log_in_with_the_password_shown_once(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    page = post_form(admin, f"/labs/{lab.id}/members", username="newbie", role="member")
    text = page.get_data(as_text=True)
    password = re.search(r"one-time password (\S+):", text).group(1)
    newbie = db.get_user_by_username("newbie")
    assert verify_password(newbie.password_hash, password)
    assert db.get_role(lab.id, newbie.id) is Role.MEMBER
    assert log_in(make_app(db).test_client(), "newbie", password).status_code == 302


def test_an_admin_changes_roles_and_removes_members_but_cannot_touch_owners(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    owner = add_member(db, lab.id, "olga", Role.OWNER)
    member = add_member(db, lab.id, "mo", Role.MEMBER)
    post_form(admin, f"/labs/{lab.id}/members/{member}/role", role="viewer")
    assert db.get_role(lab.id, member) is Role.VIEWER
    to_owner = post_form(admin, f"/labs/{lab.id}/members/{member}/role", role="owner")
    assert to_owner.status_code == 403
    assert post_form(admin, f"/labs/{lab.id}/members/{owner}/remove").status_code == 403
    post_form(admin, f"/labs/{lab.id}/members/{member}/remove")
    assert db.get_role(lab.id, member) is None


def test_the_last_owner_cannot_leave_or_be_demoted(db, lab):
    owner_client = client_for(db, lab, "olga", Role.OWNER)
    olga = db.get_user_by_username("olga").id
    page = post_form(owner_client, f"/labs/{lab.id}/members/{olga}/role", role="member")
    assert "at least one owner" in page.get_data(as_text=True)
    assert db.get_role(lab.id, olga) is Role.OWNER
    second = add_member(db, lab.id, "otto", Role.MEMBER)
    post_form(owner_client, f"/labs/{lab.id}/members/{second}/role", role="owner")
    post_form(owner_client, f"/labs/{lab.id}/members/{olga}/role", role="admin")
    assert db.get_role(lab.id, olga) is Role.ADMIN


def test_members_and_viewers_see_the_list_but_cannot_manage(db, lab):
    member = client_for(db, lab, "mo", Role.MEMBER)
    page = member.get(f"/labs/{lab.id}/members").get_data(as_text=True)
    assert "mo" in page
    assert "Add a member" not in page
    adding = post_form(member, f"/labs/{lab.id}/members", username="x", role="member")
    assert adding.status_code == 403
    other = db.create_lab("Other")
    assert member.get(f"/labs/{other.id}/members").status_code == 404


def test_the_add_member_form_cannot_demote_or_remove_an_owner(db, lab):
    admin = client_for(db, lab, "ada", Role.ADMIN)
    olga = add_member(db, lab.id, "olga", Role.OWNER)
    for role in ("viewer", "admin", "owner"):
        page = post_form(admin, f"/labs/{lab.id}/members", username="olga", role=role)
        assert page.status_code == 403
        assert db.get_role(lab.id, olga) is Role.OWNER


def test_the_last_owner_cannot_demote_themselves_through_the_add_member_form(db, lab):
    owner = client_for(db, lab, "olga", Role.OWNER)
    olga = db.get_user_by_username("olga").id
    page = post_form(owner, f"/labs/{lab.id}/members", username="olga", role="member")
    assert "at least one owner" in page.get_data(as_text=True)
    assert db.get_role(lab.id, olga) is Role.OWNER


def test_one_rule_guards_every_membership_change_in_the_service(db, lab):
    from pybirch.database.services.accounts import LastOwnerError, MembershipDenied

    olga = add_member(db, lab.id, "olga", Role.OWNER)
    ada = add_member(db, lab.id, "ada", Role.ADMIN)
    mo = add_member(db, lab.id, "mo", Role.MEMBER)
    outsider = db.create_user("eve").id
    with pytest.raises(MembershipDenied):
        db.change_membership(lab.id, olga, None, by=ada)
    with pytest.raises(MembershipDenied):
        db.change_membership(lab.id, mo, Role.OWNER, by=ada)
    with pytest.raises(MembershipDenied):
        db.change_membership(lab.id, mo, Role.VIEWER, by=outsider)
    with pytest.raises(MembershipDenied):
        db.change_membership(lab.id, ada, Role.VIEWER, by=mo)
    with pytest.raises(LastOwnerError):
        db.change_membership(lab.id, olga, None, by=olga)
    db.change_membership(lab.id, mo, Role.VIEWER, by=ada)
    db.change_membership(lab.id, outsider, Role.MEMBER, by=ada)
    db.change_membership(lab.id, mo, None, by=ada)
    assert db.get_role(lab.id, mo) is None
    assert db.get_role(lab.id, outsider) is Role.MEMBER
