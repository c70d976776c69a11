"""A computer's Instruments page: what is bound to it, and a VISA scan whose finds bind in a click.

The computer here is the server's own (the embedded shape), over pyvisa-sim; the same page
reaches a lab computer's agent in ``test_lab_computers``.
"""

from __future__ import annotations

import pytest

from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE
from pybirch.database.models import Role
from pybirch.definitions import DefinitionLibrary
from pybirch.instruments.simulated.visa_sim import (
    KEITHLEY2400_RESOURCE,
    SILENT_INSTRUMENT_RESOURCE,
    SIM_BACKEND,
    SR830_RESOURCE,
    UNKNOWN_INSTRUMENT_RESOURCE,
)
from web_support import add_member, log_in, make_app, post_form


@pytest.fixture
def lab(db):
    return db.create_lab("Bench Lab")


@pytest.fixture
def app(db, monkeypatch):
    """An app whose station is this computer's, reaching the simulated VISA instruments."""
    monkeypatch.setenv("PYBIRCH_VISA_BACKEND", SIM_BACKEND)
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "bench-server")
    app = make_app(db)
    app.extensions["pybirch.station"].register_as_this_computer()
    yield app
    app.extensions["pybirch.station"].close()


def signed_in(app, db, lab, name: str, role: Role):
    add_member(db, lab.id, name, role)
    client = app.test_client()
    log_in(client, name)
    return client


def server_page(app, lab) -> str:
    computer_id = app.extensions["pybirch.station"].identity.computer_id
    return f"/computers/{computer_id}/instruments?lab={lab.id}"


def test_an_admin_finds_the_instruments_and_binds_one_in_two_clicks(app, db, lab):
    admin = signed_in(app, db, lab, "ada", Role.ADMIN)
    page = server_page(app, lab)
    assert "No instrument of Bench Lab is bound" in admin.get(page).get_data(as_text=True)

    found = post_form(admin, page.replace("/instruments?", "/instruments/find?"))  # click 1
    text = found.get_data(as_text=True)
    assert found.status_code == 200
    for resource in (SR830_RESOURCE, KEITHLEY2400_RESOURCE, UNKNOWN_INSTRUMENT_RESOURCE):
        assert f"<code>{resource}</code>" in text
    assert "no driver knows it" in text  # the oscilloscope
    assert "no answer" in text.split(SILENT_INSTRUMENT_RESOURCE, 1)[1].split("</tr>", 1)[0]

    bound = post_form(  # click 2: the SR830 row's form, as offered
        admin,
        page.replace("/instruments?", "/instruments/bind?"),
        resource=SR830_RESOURCE,
        driver="pybirch.instruments.drivers.sr830:SR830",
        kind="measurement",
        name="SR830",
    )
    text = bound.get_data(as_text=True)
    assert "SR830 is bound to" in text
    assert "ready in the scan builder" in text
    station = app.extensions["pybirch.station"]
    assert station.instruments.get("SR830").adapter == SR830_RESOURCE
    (binding,) = db.get_computer_bindings(computer_id=station.identity.computer_id)
    assert (binding["adapter"], binding["adapter_type"]) == (SR830_RESOURCE, "GPIB")
    assert "SR830" in [info.name for info in station.catalogue()]
    builder = admin.get(f"/builder/?lab={lab.id}&computer=local").get_data(as_text=True)
    assert "This server has no instrument that moves: a scan needs both." in builder
    again = post_form(admin, page.replace("/instruments?", "/instruments/find?"))
    row = again.get_data(as_text=True).split(f"<code>{SR830_RESOURCE}</code>", 1)[1]
    assert ">bound<" in row.split("</tr>", 1)[0]


def test_a_member_scans_but_only_an_admin_binds(app, db, lab):
    member = signed_in(app, db, lab, "mia", Role.MEMBER)
    page = server_page(app, lab)
    found = post_form(member, page.replace("/instruments?", "/instruments/find?"))
    assert "a lab admin binds it" in found.get_data(as_text=True)
    refused = post_form(
        member,
        page.replace("/instruments?", "/instruments/bind?"),
        resource=SR830_RESOURCE,
        driver="pybirch.instruments.drivers.sr830:SR830",
        kind="measurement",
        name="SR830",
    )
    assert refused.status_code == 403
    assert app.extensions["pybirch.station"].instruments.get("SR830") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "Give the instrument a name."),
        ({"kind": "teapot"}, "The driver&#39;s kind is unknown"),
        ({"driver": "nowhere:Nothing"}, "did not connect: no driver"),
        ({"resource": "GPIB0::30::INSTR"}, "did not connect"),
    ],
)
def test_a_bad_binding_says_why(app, db, lab, fields, message):
    admin = signed_in(app, db, lab, "ada", Role.ADMIN)
    form = {
        "resource": SR830_RESOURCE,
        "driver": "pybirch.instruments.drivers.sr830:SR830",
        "kind": "measurement",
        "name": "SR830",
        **fields,
    }
    page = server_page(app, lab)
    answer = post_form(admin, page.replace("/instruments?", "/instruments/bind?"), **form)
    assert message in answer.get_data(as_text=True)
    assert app.extensions["pybirch.station"].instruments.get("SR830") is None


def test_another_labs_computer_and_a_foreign_server_are_hidden(app, db, lab):
    other = db.create_lab("Other Lab")
    theirs, _ = db.create_computer(other.id, "their-pc")
    stranger = db.register_computer({"computer_name": "elsewhere", "computer_id": "not-us"})
    viewer = signed_in(app, db, lab, "vic", Role.VIEWER)
    assert viewer.get(f"/computers/{theirs.id}/instruments").status_code == 404
    assert viewer.get(f"/computers/{stranger.id}/instruments?lab={lab.id}").status_code == 404
    assert viewer.get(server_page(app, lab)).status_code == 200
    find = post_form(viewer, server_page(app, lab).replace("/instruments?", "/instruments/find?"))
    assert find.status_code == 403


def stored_lockin(db, lab_id: int):
    """The seed's MyLockIn, stored in the lab by a member, pending review."""
    author = add_member(db, lab_id, "ben", Role.MEMBER)
    fields = {k: v for k, v in SEED_LOCKIN.items() if k not in ("name", "source_code")}
    return DefinitionLibrary(db).create(
        lab_id, "MyLockIn", source_code=SEED_LOCKIN_CODE, author_id=author, **fields
    )


def test_an_admin_has_a_lab_computers_instrument_run_an_approved_stored_definition(app, db, lab):
    admin = signed_in(app, db, lab, "ada", Role.ADMIN)
    definition = stored_lockin(db, lab.id)
    computer, _ = db.create_computer(lab.id, "Transport PC")
    record = db.register_instrument_on_computer(
        {"name": "SR830", "instrument_type": "measurement", "adapter": SR830_RESOURCE},
        lab.id,
        computer.id,
    )
    page = f"/computers/{computer.id}/instruments"
    choose = f"{page}/{record.id}/driver"
    assert "MyLockIn v" not in admin.get(page).get_data(as_text=True)  # pending: not offered
    post_form(admin, choose, definition_id=str(definition.id))
    assert (
        db.get_computer_bindings(computer_id=computer.id)[0]["instrument"]["definition"]["version"]
        is None
    )  # linked, but nothing approved runs yet

    db.approve_definition_version(
        definition.id, 1, lab_id=lab.id, reviewer_id=db.get_user_by_username("ada").id, comment="ok"
    )
    text = post_form(admin, choose, definition_id=str(definition.id)).get_data(as_text=True)
    assert "it loads when its agent starts" in text
    row = text.split(">SR830</a>", 1)[1].split("</tr>", 1)[0]
    assert "stored <strong>MyLockIn</strong> v1" in row
    assert "not loaded yet" in row

    (binding,) = db.get_computer_bindings(computer_id=computer.id)
    db.record_binding_use(
        binding["id"],
        loaded_driver={
            "kind": "definition",
            "name": "MyLockIn",
            "version": 1,
            "code_hash": "ab" * 32,
        },
    )
    row = admin.get(page).get_data(as_text=True).split(">SR830</a>", 1)[1].split("</tr>", 1)[0]
    assert "stored MyLockIn v1" in row
    assert "sha256 abababababab" in row

    other_lab = db.create_lab("Elsewhere")
    theirs = db.create_instrument_definition(
        other_lab.id,
        "Theirs",
        "measurement",
        SEED_LOCKIN_CODE,
        author_id=add_member(db, other_lab.id, "cy", Role.MEMBER),
    )
    refused = post_form(admin, choose, definition_id=str(theirs.id)).get_data(as_text=True)
    assert "not one this lab sees" in refused


def test_the_web_servers_own_computer_never_runs_stored_code(app, db, lab):
    admin = signed_in(app, db, lab, "ada", Role.ADMIN)
    definition = stored_lockin(db, lab.id)
    db.approve_definition_version(
        definition.id, 1, lab_id=lab.id, reviewer_id=db.get_user_by_username("ada").id, comment="ok"
    )
    page = server_page(app, lab)
    post_form(
        admin,
        page.replace("/instruments?", "/instruments/bind?"),
        resource=SR830_RESOURCE,
        driver="pybirch.instruments.drivers.sr830:SR830",
        kind="measurement",
        name="SR830",
    )
    station = app.extensions["pybirch.station"]
    (binding,) = db.get_computer_bindings(computer_id=station.identity.computer_id)
    text = admin.get(page).get_data(as_text=True)
    assert "Drivers stored in the database run on lab computers" in text
    assert "MyLockIn v1" not in text  # not offered here
    choose = page.replace("/instruments?", f"/instruments/{binding['instrument']['id']}/driver?")
    refused = post_form(admin, choose, definition_id=str(definition.id)).get_data(as_text=True)
    assert "never inside the web server" in refused
    assert (
        db.get_computer_bindings(computer_id=station.identity.computer_id)[0]["instrument"][
            "definition_id"
        ]
        is None
    )

    # linked behind the page's back, the server's station still refuses to run it
    db.set_instrument_definition(binding["instrument"]["id"], definition.id, lab_id=lab.id)
    summary = station.load_bound()
    assert "never inside the web server" in summary.failed["SR830"]
    assert type(station.instruments.get("SR830")).__name__ == "SR830"  # the installed driver
