"""Labs pages: a user's labs, a new lab owned by its creator, editing by admins."""

from __future__ import annotations

from pybirch.database.models import Role
from pybirch.web.auth.passwords import hash_password
from web_support import PASSWORD, add_member, csrf_token, log_in, make_app


def test_a_user_creates_a_lab_owns_it_and_sees_only_their_labs(db):
    db.create_user("lea", password_hash=hash_password(PASSWORD))
    db.create_lab("Somebody else's lab")
    client = make_app(db).test_client()
    log_in(client, "lea")
    token = csrf_token(client, "/labs/")
    response = client.post(
        "/labs/", data={"name": "Optics Lab", "code": "OPT", "csrf_token": token}
    )
    assert response.status_code == 302
    lab = db.get_lab_by_name("Optics Lab")
    assert db.get_role(lab.id, db.get_user_by_username("lea").id) is Role.OWNER
    page = client.get("/labs/").get_data(as_text=True)
    assert "Optics Lab" in page
    assert "Somebody else" not in page
    again = client.post("/labs/", data={"name": "Optics Lab", "csrf_token": token})
    assert again.status_code == 400
    assert "exists already" in again.get_data(as_text=True)


def test_admins_edit_a_lab_members_cannot(db):
    lab = db.create_lab("Cryo Lab")
    add_member(db, lab.id, "adm", Role.ADMIN)
    add_member(db, lab.id, "mem", Role.MEMBER)
    admin, member = make_app(db).test_client(), make_app(db).test_client()
    log_in(admin, "adm")
    log_in(member, "mem")
    assert member.get(f"/labs/{lab.id}/edit").status_code == 403
    token = csrf_token(admin, f"/labs/{lab.id}/edit")
    admin.post(
        f"/labs/{lab.id}/edit",
        data={"name": "Cryo Lab", "description": "dilution fridges", "csrf_token": token},
    )
    assert db.get_lab(lab.id).description == "dilution fridges"
    assert admin.get(f"/labs/{db.create_lab('Other').id}/edit").status_code == 404
