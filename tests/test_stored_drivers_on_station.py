"""Stored drivers on a station: approved code runs, a new approval arrives without a restart,
an instrument in use keeps its version until its scan ends, and scans name the version."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import update

from database_builders import wait_until
from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE
from pybirch.database.errors import NotFoundError
from pybirch.database.models import InstrumentDefinitionVersion
from pybirch.definitions import DefinitionLibrary
from pybirch.demo.web_lab import bind_demo_instruments
from pybirch.instruments.simulated.visa_sim import SIM_BACKEND, SR830_RESOURCE
from pybirch.station import Station
from pybirch.station.wire import answer_enqueue

FIELDS = {
    k: v for k, v in SEED_LOCKIN.items() if k not in ("name", "instrument_type", "source_code")
}
#: Version 2 of the seed's lock-in: X doubled, so the data says which version took it.
DOUBLED_X = SEED_LOCKIN_CODE.replace(
    'x = float(self.instrument.query("OUTP? 1"))',
    'x = 2 * float(self.instrument.query("OUTP? 1"))',
)
TRIPLED_X = DOUBLED_X.replace("x = 2 *", "x = 3 *")


@pytest.fixture
def people(db) -> SimpleNamespace:
    """A lab with an author (member) and two admins, and another lab."""
    found = SimpleNamespace(lab=db.create_lab("Drivers Lab").id, other=db.create_lab("Other").id)
    for name, role in [("author", "member"), ("admin", "admin"), ("admin2", "admin")]:
        user = db.create_user(name)
        db.set_membership(found.lab, user.id, role)
        setattr(found, name, user.id)
    return found


@pytest.fixture
def station(db, people, monkeypatch, tmp_path):
    """This computer's station with the demo's instruments and a simulated SR830 bound."""
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "stored-driver-machine")
    monkeypatch.setenv("PYBIRCH_DRIVERS_DIR", str(tmp_path / "drivers"))
    monkeypatch.setenv("PYBIRCH_VISA_BACKEND", SIM_BACKEND)
    station = Station(db)
    identity = station.register_as_this_computer()
    bind_demo_instruments(db, people.lab, identity.computer_id, delay=0.0)
    yield station
    station.close()


@pytest.fixture
def lockin(db, people, station) -> SimpleNamespace:
    """The seed's MyLockIn stored, approved by an admin, and an SR830 bound running it."""
    definition = DefinitionLibrary(db).create(
        people.lab, "MyLockIn", "measurement", SEED_LOCKIN_CODE, author_id=people.author, **FIELDS
    )
    db.approve_definition_version(
        definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="checked"
    )
    computer_id = station.identity.computer_id
    record = db.register_instrument_on_computer(
        {"name": "SR830", "instrument_type": "measurement", "adapter": SR830_RESOURCE},
        people.lab,
        computer_id,
    )
    db.set_instrument_definition(record.id, definition.id, lab_id=people.lab)
    db.bind_instrument_to_computer(record.id, computer_id=computer_id, adapter=SR830_RESOURCE)
    return SimpleNamespace(definition=definition.id, instrument=record.id)


def edit(db, people, definition_id: int, code: str) -> int:
    """A new version by the author, approved by the second admin; its number."""
    stored = DefinitionLibrary(db).update(
        definition_id, lab_id=people.lab, author_id=people.author, source_code=code
    )
    db.approve_definition_version(
        definition_id, stored.version, lab_id=people.lab, reviewer_id=people.admin2, comment="ok"
    )
    return stored.version


def run_scan(station, lab_id: int, *, start: bool = True) -> tuple[dict, object]:
    """Queue a line scan read by the SR830 on the station's one queue (made the first time)."""
    running = station.queues(lab_id)
    choice = {"id": running[0].id} if running else {"name": "drivers queue"}
    reply = answer_enqueue(
        station,
        {
            "lab_id": lab_id,
            "design": {
                "scan_name": "lock-in line",
                "axes": [{"instrument": "Stage X", "start": 0, "stop": 1, "points": 3}],
                "measurements": ["SR830"],
            },
            "queue": choice,
            "start": start,
        },
    )
    assert reply["ok"], reply
    return reply, station.queue(reply["queue_id"])


def recorded_driver(db, reply) -> dict:
    """What the scan's record says about the SR830's driver."""
    return db.get_scan(reply["scan_id"]).driver_versions["SR830"]


def x_of(db, reply) -> float:
    """The first X the SR830 measured in the scan."""
    record = db.get_scan(reply["scan_id"], with_settings=False)
    return float(db.read_scan_data(record.id, "SR830")["X (V)"][0])


def loaded_version(station) -> int:
    return type(station.instruments.get("SR830")).definition_version


def test_an_approved_stored_driver_runs_and_the_scan_names_its_version(db, people, station, lockin):
    loaded = station.discover()

    assert "SR830" in {instrument.name for _, instrument in loaded.instruments}, loaded.failures
    assert loaded_version(station) == 1
    (binding,) = [
        b
        for b in db.get_computer_bindings(computer_id=station.identity.computer_id)
        if b["instrument"]["name"] == "SR830"
    ]
    assert binding["loaded_driver"]["kind"] == "definition"
    assert binding["loaded_driver"]["version"] == 1

    reply, queue = run_scan(station, people.lab)
    assert queue.wait_for_completion(60)
    driver = recorded_driver(db, reply)
    assert (driver["kind"], driver["name"], driver["version"]) == ("definition", "MyLockIn", 1)
    assert (
        driver["code_hash"]
        == db.get_instrument_definition(lockin.definition, lab_id=people.lab).approved_code_hash
    )
    assert x_of(db, reply) == pytest.approx(3e-4)


def test_a_newly_approved_version_is_used_by_the_next_scan_without_a_restart(
    db, people, station, lockin
):
    station.discover()
    DefinitionLibrary(db).update(
        lockin.definition, lab_id=people.lab, author_id=people.author, source_code=DOUBLED_X
    )
    reply, queue = run_scan(station, people.lab)  # version 2 is pending: version 1 runs
    assert queue.wait_for_completion(60)
    assert recorded_driver(db, reply)["version"] == 1

    db.approve_definition_version(
        lockin.definition, 2, lab_id=people.lab, reviewer_id=people.admin2, comment="ok"
    )
    reply, queue = run_scan(station, people.lab)
    assert queue.wait_for_completion(60)

    assert recorded_driver(db, reply)["version"] == 2
    assert x_of(db, reply) == pytest.approx(6e-4)
    assert loaded_version(station) == 2


def test_an_instrument_in_use_keeps_its_version_until_its_scan_ends(db, people, station, lockin):
    station.discover()
    reply, queue = run_scan(station, people.lab, start=False)  # holds the SR830, queued
    edit(db, people, lockin.definition, DOUBLED_X)

    assert station.refresh_drivers().loaded == []  # the queued scan holds version 1
    assert loaded_version(station) == 1
    queue.start()
    assert queue.wait_for_completion(60)
    assert recorded_driver(db, reply)["version"] == 1
    assert x_of(db, reply) == pytest.approx(3e-4)
    # renewed once the scan that held it ended, without anyone asking
    wait_until(lambda: loaded_version(station) == 2, timeout=30)


def test_code_changed_in_the_database_behind_pybirchs_back_is_refused(db, people, station, lockin):
    with db.session() as session:
        session.execute(
            update(InstrumentDefinitionVersion)
            .where(InstrumentDefinitionVersion.definition_id == lockin.definition)
            .values(source_code=TRIPLED_X)
        )

    loaded = station.discover()

    failures = {binding["instrument"]["name"]: why for binding, why in loaded.failures}
    assert "SR830" in failures
    assert "MyLockIn" in failures["SR830"]
    assert "approved" in failures["SR830"]
    assert station.instruments.get("SR830") is None
    (latest, *_) = db.get_instrument_status_history(lockin.instrument)
    assert latest.status == "error"


def test_an_instrument_never_runs_another_labs_private_definition(db, people, lockin):
    other_admin = db.create_user("stranger")
    db.set_membership(people.other, other_admin.id, "admin")
    record = db.create_instrument("Their lock-in", "measurement", lab_id=people.other)
    with pytest.raises(NotFoundError):
        db.set_instrument_definition(record.id, lockin.definition, lab_id=people.other)
    with pytest.raises(NotFoundError):  # nor may another lab relink this lab's instrument
        db.set_instrument_definition(lockin.instrument, None, lab_id=people.other)


def test_a_database_definition_wins_over_a_driver_file_of_its_name(db, people, station, lockin):
    computer_id = station.identity.computer_id
    record = db.register_instrument_on_computer(
        {
            "name": "Bench lock-in",
            "instrument_type": "measurement",
            "pybirch_class": "pybirch_driver_lockin_0000:MyLockIn",
            "adapter": SR830_RESOURCE,
        },
        people.lab,
        computer_id,
    )
    db.bind_instrument_to_computer(record.id, computer_id=computer_id, adapter=SR830_RESOURCE)
    (binding,) = [
        b
        for b in db.get_computer_bindings(computer_id=computer_id)
        if b["instrument"]["name"] == "Bench lock-in"
    ]
    assert binding["instrument"]["definition"]["id"] == lockin.definition
    assert binding["instrument"]["definition"]["version"] == 1
