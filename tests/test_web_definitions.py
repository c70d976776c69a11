"""Stored drivers in the web: the REST routes and the pages, as members, admins and strangers.

The server validates stored code (parses and compiles it) and never runs it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE
from pybirch.database.models import Role
from pybirch.definitions.templates import TEMPLATES
from pybirch.web.side_by_side import side_by_side
from web_support import add_member, csrf_token, log_in, make_app, post_form

API = "/api/instrument-definitions"
BROKEN = "class Broken(VisaBaseMeasurementInstrument):\n    def _perform_measurement_impl(self:\n"


@dataclass
class Lab:
    """A lab with a member (the author), two admins and a viewer; and a stranger elsewhere."""

    id: int
    clients: dict[str, FlaskClient]

    def api(self, who: str, method: str, path: str, **kwargs: object):
        """A JSON request of ``who``'s browser, with its CSRF token."""
        client = self.clients[who]
        headers = {"X-CSRFToken": csrf_token(client, "/")}
        return client.open(path, method=method, headers=headers, **kwargs)

    def create(self, who: str = "alice", **changes: object) -> dict:
        """The seed's lock-in, as posted, with ``changes``: its document (201 asserted)."""
        response = self.api(who, "POST", f"{API}?lab={self.id}", json={**SEED_LOCKIN, **changes})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def lab(db) -> Lab:
    record = db.create_lab("Optics Lab")
    elsewhere = db.create_lab("Elsewhere Lab")
    people = {"alice": Role.MEMBER, "bob": Role.ADMIN, "carol": Role.ADMIN, "vic": Role.VIEWER}
    clients = {}
    for name, role in people.items():
        add_member(db, record.id, name, role)
    add_member(db, elsewhere.id, "olga", Role.OWNER)
    for name in (*people, "olga"):
        clients[name] = make_app(db).test_client()
        log_in(clients[name], name)
    return Lab(record.id, clients)


# -- the API ------------------------------------------------------------------------------


def test_the_seeds_lockin_is_created_as_posted_and_listed(lab):
    created = lab.create()
    assert created["name"] == "MyLockIn"
    assert created["base_class"] == "VisaBaseMeasurementInstrument"
    assert created["origin"] == "lab"
    assert [(v["version"], v["status"], v["created_by"]) for v in created["versions"]] == [
        (1, "pending", "alice")
    ]
    assert created["source_code"] == SEED_LOCKIN_CODE

    listed = lab.api("vic", "GET", f"{API}?lab={lab.id}&type=measurement&status=pending")
    assert [item["name"] for item in listed.get_json()["items"]] == ["MyLockIn"]
    for empty in ("type=movement", "status=approved", "origin=builtin", "category=Magnets"):
        response = lab.api("vic", "GET", f"{API}?lab={lab.id}&{empty}")
        assert response.get_json()["items"] == [], empty
    assert lab.api("vic", "GET", f"{API}?status=lost").status_code == 400


def test_invalid_code_is_refused_with_the_line_and_column_of_each_problem(lab):
    response = lab.api(
        "alice", "POST", f"{API}?lab={lab.id}", json={**SEED_LOCKIN, "source_code": BROKEN}
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["problems"][0]["line"] == 2
    assert error["problems"][0]["column"] > 0
    assert "SyntaxError" in error["problems"][0]["message"]
    assert lab.api("alice", "GET", f"{API}?lab={lab.id}").get_json()["items"] == []

    unsaved = lab.api("alice", "POST", f"{API}/validate", json={"source_code": BROKEN})
    assert unsaved.status_code == 200
    report = unsaved.get_json()
    assert report["ok"] is False
    assert (report["problems"][0]["line"], report["problems"][0]["field"]) == (2, "source_code")
    fine = lab.api("vic", "POST", f"{API}/validate", json={"source_code": SEED_LOCKIN_CODE})
    assert fine.get_json()["ok"] is True
    assert fine.get_json()["class_name"] == "MyLockIn"


def test_clear_json_errors_for_bodies_that_are_not_definitions(lab):
    for body in ({"source_code": 3}, {"colour": "red"}, ["a list"]):
        response = lab.api("alice", "POST", f"{API}/validate", json=body)
        assert response.status_code == 400
        assert response.get_json()["error"]["message"]
    missing = lab.api("alice", "POST", f"{API}?lab={lab.id}", json={"name": "X"})
    assert missing.status_code == 400
    assert "source_code" in missing.get_json()["error"]["message"]
    created = lab.create()
    twice = lab.api("alice", "POST", f"{API}?lab={lab.id}", json=SEED_LOCKIN)
    assert twice.status_code == 409
    assert lab.api("alice", "GET", f"{API}/{created['id']}/versions/9").status_code == 404


def test_an_edit_makes_version_two_pending_with_a_diff_and_a_rollback(lab):
    created = lab.create()
    path = f"{API}/{created['id']}"
    slower = SEED_LOCKIN_CODE.replace('"time_constant": 0.1', '"time_constant": 0.3')
    edited = lab.api("alice", "PUT", path, json={"source_code": slower, "change_summary": "slower"})
    assert edited.status_code == 200
    assert [(v["version"], v["status"]) for v in edited.get_json()["versions"]] == [
        (1, "pending"),
        (2, "pending"),
    ]
    renamed = lab.api("alice", "PUT", path, json={"display_name": "SR830"})
    assert renamed.get_json()["version"] == 2  # no new code: no new version

    diff = lab.api("vic", "GET", f"{path}/diff?from=1&to=2").get_json()["diff"]
    assert '-            "time_constant": 0.1,' in diff
    assert '+            "time_constant": 0.3,' in diff

    back = lab.api("alice", "POST", f"{path}/rollback", json={"version": 1})
    assert back.status_code == 201
    assert (back.get_json()["version"], back.get_json()["status"]) == (3, "pending")
    third = lab.api("vic", "GET", f"{path}/versions/3").get_json()
    assert third["source_code"] == SEED_LOCKIN_CODE
    audit = [row["action"] for row in lab.api("vic", "GET", f"{path}/audit").get_json()["items"]]
    assert audit == ["created", "edited", "updated", "rolled_back"]
    stored = lab.api("vic", "POST", f"{path}/validate")
    assert stored.get_json()["ok"] is True
    bad = lab.api("vic", "POST", f"{path}/validate", json={"source_code": BROKEN})
    assert bad.get_json()["problems"][0]["line"] == 2


def test_a_second_admin_approves_and_the_author_cannot(lab):
    created = lab.create(who="bob")  # an admin writes it
    version = f"{API}/{created['id']}/versions/1"
    own = lab.api("bob", "POST", f"{version}/approve", json={"comment": "mine"})
    assert own.status_code == 403
    assert "another lab admin" in own.get_json()["error"]["message"]
    assert lab.api("alice", "POST", f"{version}/approve", json={}).status_code == 403  # a member
    approved = lab.api("carol", "POST", f"{version}/approve", json={"comment": "read it"})
    assert approved.status_code == 200
    assert (approved.get_json()["status"], approved.get_json()["approved_by"]) == (
        "approved",
        "carol",
    )
    again = lab.api("carol", "POST", f"{version}/reject", json={"comment": "no"})
    assert again.status_code == 409
    definition = lab.api("vic", "GET", f"{API}/{created['id']}").get_json()
    assert definition["approved_version"] == 1


def test_a_rejection_needs_a_reason(lab):
    created = lab.create()
    version = f"{API}/{created['id']}/versions/1"
    assert lab.api("bob", "POST", f"{version}/reject", json={"comment": " "}).status_code == 400
    rejected = lab.api("bob", "POST", f"{version}/reject", json={"comment": "no IDN check"})
    assert rejected.get_json()["status"] == "rejected"


def test_another_lab_gets_404_and_public_or_builtin_ones_are_read_only(db, lab):
    private = lab.create()
    for path in (f"{API}/{private['id']}", f"{API}/{private['id']}/versions", "/definitions/"):
        if path.startswith("/definitions"):
            page = lab.clients["olga"].get(path).get_data(as_text=True)
            assert "MyLockIn" not in page
        else:
            assert lab.api("olga", "GET", path).status_code == 404
    assert lab.clients["olga"].get(f"/definitions/{private['id']}").status_code == 404
    assert lab.api("olga", "PUT", f"{API}/{private['id']}", json={}).status_code == 404

    shared = lab.create(name="SharedLockIn", is_public=True)
    seen = lab.api("olga", "GET", f"{API}/{shared['id']}")
    assert seen.status_code == 200
    assert seen.get_json()["origin"] == "public"
    refused = lab.api("olga", "PUT", f"{API}/{shared['id']}", json={"display_name": "mine"})
    assert refused.status_code == 403
    assert "read-only" in refused.get_json()["error"]["message"]
    page = lab.clients["olga"].get(f"/definitions/{shared['id']}").get_data(as_text=True)
    assert "Edit code" not in page
    assert "read-only here" in page

    builtin = db.create_instrument_definition(
        None, "BuiltinLockIn", "measurement", SEED_LOCKIN_CODE, author_id=None, is_builtin=True
    )
    listed = lab.api("alice", "GET", f"{API}?lab={lab.id}&origin=builtin").get_json()["items"]
    assert [item["name"] for item in listed] == ["BuiltinLockIn"]
    assert lab.api("alice", "PUT", f"{API}/{builtin.id}", json={}).status_code == 403
    assert "Edit code" not in lab.clients["alice"].get(f"/definitions/{builtin.id}").get_data(
        as_text=True
    )


def test_a_viewer_reads_but_cannot_write(lab):
    created = lab.create()
    path = f"{API}/{created['id']}"
    assert lab.api("vic", "GET", path).status_code == 200
    assert lab.api("vic", "POST", f"{API}?lab={lab.id}", json=SEED_LOCKIN).status_code == 403
    assert lab.api("vic", "PUT", path, json={"display_name": "x"}).status_code == 403
    assert lab.api("vic", "POST", f"{path}/rollback", json={"version": 1}).status_code == 403
    assert lab.clients["vic"].get(f"/definitions/{created['id']}/edit").status_code == 403
    page = lab.clients["vic"].get(f"/definitions/{created['id']}").get_data(as_text=True)
    assert "Edit code" not in page
    assert "Roll back" not in page


def test_the_server_never_runs_stored_code(lab, tmp_path):
    marker = tmp_path / "ran"
    # Run, this would end the process and divide by zero in the class body.
    quiet = (
        "import numpy as np\n"
        "from pybirch.instruments import BaseMeasurementInstrument\n"
        "raise SystemExit('the server ran stored code')\n"
        "class Quiet(BaseMeasurementInstrument):\n"
        "    noise = [1 / 0]\n"
        "    def _perform_measurement_impl(self):\n"
        "        return np.zeros((1, 1))\n"
    )
    fields = {"name": "Quiet", "instrument_type": "measurement", "source_code": quiet}
    report = lab.api("alice", "POST", f"{API}/validate", json=fields).get_json()
    assert (report["ok"], report["class_name"]) == (True, "Quiet")
    created = lab.api("alice", "POST", f"{API}?lab={lab.id}", json=fields)
    assert created.status_code == 201
    number = created.get_json()["id"]
    assert lab.api("alice", "POST", f"{API}/{number}/validate").get_json()["ok"] is True
    assert lab.clients["alice"].get(f"/definitions/{number}").status_code == 200

    # Run, this would write a file: validation only names the refused call.
    writer = quiet.replace("raise SystemExit", f"np.savetxt({str(marker)!r}, np.zeros(1))\n#")
    refused = lab.api("alice", "POST", f"{API}/validate", json={**fields, "source_code": writer})
    (problem,) = refused.get_json()["problems"]
    assert (problem["line"], "savetxt" in problem["message"]) == (3, True)
    assert not marker.exists()


def test_the_openapi_document_lists_every_definition_route(lab):
    paths = lab.clients["alice"].get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        (API, "get"),
        (API, "post"),
        (f"{API}/validate", "post"),
        (f"{API}/{{definition_id}}", "put"),
        (f"{API}/{{definition_id}}/validate", "post"),
        (f"{API}/{{definition_id}}/diff", "get"),
        (f"{API}/{{definition_id}}/rollback", "post"),
        (f"{API}/{{definition_id}}/versions/{{version}}/approve", "post"),
        (f"{API}/{{definition_id}}/versions/{{version}}/reject", "post"),
    ]:
        assert method in paths[path], (path, method)
    assert "422" in paths[API]["post"]["responses"]


# -- the pages ----------------------------------------------------------------------------


def _form(**values: str) -> dict[str, str]:
    template = TEMPLATES["VisaBaseMeasurementInstrument"]
    return {
        "name": template.name,
        "instrument_type": "measurement",
        "category": template.category,
        "data_columns": "X, Y",
        "data_units": "V, V",
        "settings_schema": '{"type": "object", "properties": {"time_constant": '
        '{"type": "number", "minimum": 0.00001, "maximum": 30}}}',
        "default_settings": '{"time_constant": 0.1}',
        "visibility": "lab",
        "source_code": template.source_code,
        "change_summary": "",
        **values,
    }


def test_a_driver_is_created_from_a_template_in_the_browser(lab):
    client = lab.clients["alice"]
    new = client.get(f"/definitions/new?lab={lab.id}&base=VisaBaseMeasurementInstrument")
    assert new.status_code == 200
    assert "class LockIn(VisaBaseMeasurementInstrument)" in html.unescape(
        new.get_data(as_text=True)
    )
    page = post_form(client, f"/definitions/new?lab={lab.id}", **_form())
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "saved as version 1" in text
    assert 'value="0.1"' in text  # the settings form shows the default setting
    assert "Time constant" in text
    assert re.search(r"<td>v1<div", text)


def test_a_form_with_broken_code_comes_back_as_typed(lab):
    client = lab.clients["alice"]
    page = post_form(
        client,
        f"/definitions/new?lab={lab.id}",
        **_form(name="MyTypedName", source_code=BROKEN, default_settings='{"time_constant": 99}'),
    )
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 422
    assert 'value="MyTypedName"' in text
    assert "def _perform_measurement_impl(self:" in text
    assert "line 2" in text
    assert lab.api("alice", "GET", f"{API}?lab={lab.id}").get_json()["items"] == []


def test_edit_diff_rollback_and_approval_pages(lab):
    created = lab.create()
    number = created["id"]
    alice = lab.clients["alice"]
    slower = SEED_LOCKIN_CODE.replace('"time_constant": 0.1', '"time_constant": 0.3')
    edit = alice.get(f"/definitions/{number}/edit")
    assert "MyLockIn" in edit.get_data(as_text=True)
    saved = post_form(
        alice,
        f"/definitions/{number}/edit",
        **_form(name="MyLockIn", source_code=slower, change_summary="slower"),
    )
    assert "Saved as version 2" in saved.get_data(as_text=True)

    diff = alice.get(f"/definitions/{number}/diff?from=1&to=2").get_data(as_text=True)
    assert '<td class="text removed">' in diff
    assert '<td class="text added">' in diff

    rolled = post_form(alice, f"/definitions/{number}/rollback", version="1")
    assert "Version 3 now holds the code of version 1" in rolled.get_data(as_text=True)

    assert alice.get("/approvals/").status_code == 403  # members do not review
    queue = lab.clients["bob"].get("/approvals/").get_data(as_text=True)
    assert queue.count('id="review-') == 3
    approved = post_form(lab.clients["bob"], f"/approvals/{number}/3/approve", comment="ok")
    assert "version 3 approved" in approved.get_data(as_text=True)
    audit = lab.clients["vic"].get(f"/definitions/{number}").get_data(as_text=True)
    assert "rolled back" in audit
    assert "approved" in audit


def test_the_author_is_told_why_they_cannot_approve(lab):
    created = lab.create(who="bob")
    page = lab.clients["bob"].get("/approvals/").get_data(as_text=True)
    assert "You wrote this version" in page
    assert f"/approvals/{created['id']}/1/approve" not in page
    other = lab.clients["carol"].get("/approvals/").get_data(as_text=True)
    assert f"/approvals/{created['id']}/1/approve" in other


def test_the_settings_form_saves_default_settings(lab):
    created = lab.create()
    client = lab.clients["alice"]
    path = f"/definitions/{created['id']}/settings"
    refused = post_form(
        client, path, **{"setting-sensitivity": "abc", "setting-time_constant": "1"}
    )
    assert refused.status_code == 422
    assert 'value="abc"' in refused.get_data(as_text=True)
    saved = post_form(client, path, **{"setting-sensitivity": "1e-6", "setting-time_constant": "3"})
    assert "Default settings saved" in saved.get_data(as_text=True)
    document = lab.api("alice", "GET", f"{API}/{created['id']}").get_json()
    assert document["default_settings"] == {"sensitivity": 1e-6, "time_constant": 3.0}
    assert document["version"] == 1


def test_the_list_page_filters(lab):
    lab.create()
    lab.create(
        name="Stage",
        display_name="Stage",
        instrument_type="movement",
        source_code=TEMPLATES["VisaMovement"].source_code.replace("StageController", "Stage"),
        data_columns=None,
        data_units=None,
        category="Stages",
        settings_schema=None,
    )
    client = lab.clients["vic"]
    everything = client.get(f"/definitions/?lab={lab.id}").get_data(as_text=True)
    assert "MyLockIn" in everything
    assert "Stage" in everything
    movements = client.get(f"/definitions/?lab={lab.id}&type=movement").get_data(as_text=True)
    assert "MyLockIn" not in movements
    assert ">Stage</a>" in movements
    assert "New driver" not in everything  # viewers do not write


def test_two_column_diff_rows_pair_removed_with_added_lines():
    unified = "--- a\n+++ b\n@@ -1,3 +1,3 @@\n same\n-old\n+new\n+extra\n"
    rows = side_by_side(unified)
    assert rows[0].hunk is not None
    assert (rows[1].left.number, rows[1].right.number, rows[1].left.kind) == (1, 1, "same")
    assert (rows[2].left.text, rows[2].right.text) == ("old", "new")
    assert (rows[3].left.kind, rows[3].right.text, rows[3].right.number) == ("blank", "extra", 3)
