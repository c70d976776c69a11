"""Computers known by their machine id, instruments per computer, and bindings, on both backends."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from pybirch.database import DatabaseService, DuplicateError, NotFoundError
from pybirch.database.errors import AmbiguousComputerError, ComputerConflictError, DatabaseError
from pybirch.database.models import (
    Computer,
    InstrumentDefinition,
    InstrumentDefinitionVersion,
)
from pybirch.database.services.bindings import adapter_type_of
from pybirch.database_integration import EquipmentManager
from pybirch.database_integration.managers.equipment_manager import describe_instrument
from pybirch.definitions import get_computer_info
from pybirch.instruments.simulated import FakeLockin, FakeStage

LOCKIN = {"name": "Lock-in", "instrument_type": "measurement", "pybirch_class": "x.SR830"}


def info(machine: str = "machine-1", name: str = "LABPC-01", **more: str) -> dict[str, str]:
    """What get_computer_info reports on a computer."""
    return {
        "computer_name": name,
        "computer_id": machine,
        "username": "researcher",
        "os": "Linux",
        "platform": "Linux-6.1-x86_64",
        **more,
    }


@pytest.fixture
def lab(db: DatabaseService):
    return db.create_lab("Optics")


@pytest.fixture
def other_lab(db: DatabaseService):
    return db.create_lab("Magnetism")


# -- computers -----------------------------------------------------------------------------


def test_register_computer_finds_or_creates_by_machine_id_and_refreshes(db, lab) -> None:
    first = db.register_computer(info(), lab.id)
    assert (first.lab_id, first.computer_id) == (lab.id, "machine-1")
    assert (first.computer_name, first.hostname) == ("LABPC-01", "LABPC-01")
    assert (first.os, first.username, first.platform) == ("Linux", "researcher", "Linux-6.1-x86_64")
    assert first.last_seen is not None

    again = db.register_computer(info(name="LABPC-renamed", os="Windows"), lab.id)
    assert again.id == first.id
    assert (again.hostname, again.os) == ("LABPC-renamed", "Windows")
    assert again.computer_name == "LABPC-01"  # its name stays; the host name follows
    assert again.last_seen >= first.last_seen
    assert [c.id for c in db.list_computers(lab.id)] == [first.id]


def test_a_servers_own_computer_has_no_lab_and_one_machine_may_serve_two_labs(
    db, lab, other_lab
) -> None:
    server = db.register_computer(info())
    assert server.lab_id is None
    assert db.register_computer(info()).id == server.id
    in_lab = db.register_computer(info(), lab.id)
    in_other = db.register_computer(info(), other_lab.id)
    assert len({server.id, in_lab.id, in_other.id}) == 3
    assert [c.id for c in db.list_computers(lab.id)] == [in_lab.id]


def test_register_computer_needs_a_machine_id_and_a_real_lab(db, lab) -> None:
    with pytest.raises(ValueError, match="computer_id"):
        db.register_computer({"computer_name": "LABPC-01"}, lab.id)
    with pytest.raises(ValueError, match="at most 255"):
        db.register_computer(info(machine="x" * 256), lab.id)
    with pytest.raises(NotFoundError):
        db.register_computer(info(), 987654)


def test_the_database_keeps_machine_ids_unique_per_lab_and_among_servers(db, lab) -> None:
    def insert(lab_id: int | None, machine: str | None) -> None:
        with db.session() as session:
            session.add(Computer(lab_id=lab_id, computer_name="pc", computer_id=machine))

    insert(lab.id, "same")
    insert(None, "same")  # a lab's record and a server's are different computers
    with pytest.raises(DuplicateError):
        insert(lab.id, "same")
    with pytest.raises(DuplicateError):
        insert(None, "same")  # NULL labs are distinct to a unique constraint: the index holds
    insert(lab.id, None)
    insert(lab.id, None)  # computers not heard from yet have no id: any number of them


def test_first_contact_fills_in_the_tokens_computer(db, lab) -> None:
    computer, _ = db.create_computer(lab.id, "Raman PC")
    assert computer.computer_id is None
    seen = db.record_computer_presence(computer.id, online=True, info=info(name="raman-host"))
    assert (seen.computer_id, seen.hostname, seen.os) == ("machine-1", "raman-host", "Linux")
    assert (seen.username, seen.platform) == ("researcher", "Linux-6.1-x86_64")
    assert seen.computer_name == "Raman PC"  # the admin's name stays
    assert seen.extra_data["agent"]["computer_id"] == "machine-1"
    # register_computer of the lab finds the same record by its machine id now
    assert db.register_computer(info(), lab.id).id == computer.id
    # an agent of before get_computer_info reported "hostname"
    old = db.record_computer_presence(computer.id, online=True, info={"hostname": "old-agent"})
    assert (old.hostname, old.computer_id) == ("old-agent", "machine-1")
    both = db.record_computer_presence(
        computer.id, online=True, info={**info(name="new-name"), "hostname": "old-name"}
    )
    assert both.hostname == "new-name"


def test_a_machine_added_twice_to_a_lab_is_refused_with_the_record_it_is(db, lab) -> None:
    first, _ = db.create_computer(lab.id, "Raman PC")
    db.record_computer_presence(first.id, online=True, info=info())
    second, _ = db.create_computer(lab.id, "Raman PC again")

    with pytest.raises(ComputerConflictError, match="'Raman PC'") as raised:
        db.record_computer_presence(second.id, online=True, info=info())

    assert raised.value.other_id == first.id
    assert isinstance(raised.value, DuplicateError)
    stored = db.get_computer(second.id)
    assert stored.computer_id is None
    assert not (stored.extra_data or {}).get("online")  # nothing of the report was kept
    assert db.get_computer(first.id).computer_id == "machine-1"


def test_the_same_machine_in_another_lab_is_no_conflict(db, lab, other_lab) -> None:
    ours, _ = db.create_computer(lab.id, "Shared PC")
    theirs, _ = db.create_computer(other_lab.id, "Shared PC")
    db.record_computer_presence(ours.id, online=True, info=info())
    db.record_computer_presence(theirs.id, online=True, info=info())
    assert db.get_computer(theirs.id).computer_id == db.get_computer(ours.id).computer_id


def test_a_token_moved_to_a_new_machine_follows_it(db, lab) -> None:
    computer, _ = db.create_computer(lab.id, "Raman PC")
    db.record_computer_presence(computer.id, online=True, info=info(machine="old-pc"))
    db.record_computer_presence(computer.id, online=True, info=info(machine="new-pc"))
    assert db.get_computer(computer.id).computer_id == "new-pc"


def test_update_computer_sets_and_clears_nickname_and_location(db, lab, other_lab) -> None:
    computer, _ = db.create_computer(lab.id, "Raman PC")
    changed = db.update_computer(computer.id, nickname=" Raman ", location="Room 2.14")
    assert (changed.nickname, changed.location, changed.display_name) == (
        "Raman",
        "Room 2.14",
        "Raman",
    )
    kept = db.update_computer(computer.id, location="Room 3")
    assert (kept.nickname, kept.location) == ("Raman", "Room 3")
    cleared = db.update_computer(computer.id, nickname="")
    assert (cleared.nickname, cleared.display_name) == (None, "Raman PC")

    with pytest.raises(ValueError, match="at most 100"):
        db.update_computer(computer.id, nickname="n" * 101)
    with pytest.raises(ValueError, match="at most 255"):
        db.update_computer(computer.id, location="l" * 256)
    with pytest.raises(NotFoundError):
        db.update_computer(computer.id, nickname="x", lab_id=other_lab.id)
    db.create_computer(lab.id, "Cryo PC")
    with pytest.raises(DuplicateError, match="Cryo PC"):
        db.update_computer(computer.id, nickname="Cryo PC")
    assert db.get_computer(computer.id).nickname is None


# -- binding instruments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "kind"),
    [
        ("GPIB0::8::INSTR", "GPIB"),
        ("USB0::0x0957::0x1796::MY123::INSTR", "USB"),
        ("ASRL/dev/ttyUSB0::INSTR", "Serial"),
        ("ASRL3::INSTR", "Serial"),
        ("TCPIP0::192.168.1.5::inst0::INSTR", "TCP"),
        ("TCPIP::10.0.0.2::5025::SOCKET", "TCP"),
        ("gpib0::8::instr", "GPIB"),
        ("PXI0::1::INSTR", None),
        ("", None),
        (None, None),
    ],
)
def test_the_adapter_type_comes_from_the_visa_address(adapter, kind) -> None:
    assert adapter_type_of(adapter) == kind


def test_bind_by_host_name_nickname_or_id_and_upsert(db, lab) -> None:
    computer = db.register_computer(info(name="LABPC-01"), lab.id)
    db.update_computer(computer.id, nickname="Raman")
    lockin = db.register_instrument(LOCKIN, lab.id)

    first = db.bind_instrument_to_computer(lockin.id, "LABPC-01", "GPIB0::8::INSTR")
    assert (first.computer_id, first.adapter, first.adapter_type) == (
        computer.id,
        "GPIB0::8::INSTR",
        "GPIB",
    )
    assert (first.options, first.is_primary) == ({}, True)
    again = db.bind_instrument_to_computer(
        lockin.id, "Raman", options={"timeout_ms": 2000}, last_settings={"phase": 12.0}
    )
    assert again.id == first.id
    assert (again.adapter, again.options, again.last_settings) == (
        "GPIB0::8::INSTR",  # not given: kept
        {"timeout_ms": 2000},
        {"phase": 12.0},
    )
    by_id = db.bind_instrument_to_computer(
        lockin.id, computer_id=computer.id, adapter="ASRL1::INSTR", adapter_type="RS-232"
    )
    assert by_id.id == first.id
    assert (by_id.adapter, by_id.adapter_type) == ("ASRL1::INSTR", "RS-232")


def test_only_one_binding_of_an_instrument_is_primary(db, lab) -> None:
    db.register_computer(info(machine="a", name="PC-A"), lab.id)
    db.register_computer(info(machine="b", name="PC-B"), lab.id)
    lockin = db.register_instrument(LOCKIN, lab.id)

    def primary() -> dict[str, bool]:
        return {
            name: db.get_computer_bindings(name, lab_id=lab.id)[0]["is_primary"]
            for name in ("PC-A", "PC-B")
        }

    first = db.bind_instrument_to_computer(lockin.id, "PC-A")
    second = db.bind_instrument_to_computer(lockin.id, "PC-B")
    assert primary() == {"PC-A": False, "PC-B": True}
    spare = db.bind_instrument_to_computer(lockin.id, "PC-B", is_primary=False)
    assert spare.id == second.id != first.id
    assert primary() == {"PC-A": False, "PC-B": False}
    db.bind_instrument_to_computer(lockin.id, "PC-A")
    assert primary() == {"PC-A": True, "PC-B": False}


def test_a_lab_computer_never_binds_another_labs_instrument(db, lab, other_lab) -> None:
    ours = db.register_computer(info(machine="ours", name="OURS"), lab.id)
    theirs = db.register_instrument(LOCKIN, other_lab.id)
    with pytest.raises(NotFoundError):
        db.bind_instrument_to_computer(theirs.id, computer_id=ours.id)
    with pytest.raises(NotFoundError):
        db.bind_instrument_to_computer(theirs.id, "OURS")  # not found among theirs
    mine = db.register_instrument(LOCKIN, lab.id)
    with pytest.raises(NotFoundError):
        db.bind_instrument_to_computer(mine.id, "OURS", lab_id=other_lab.id)
    assert db.get_computer_bindings(computer_id=ours.id) == []


def test_a_servers_own_computer_may_bind_any_labs_instrument(db, lab, other_lab) -> None:
    server = db.register_computer(info(machine="server", name="central"))
    ours = db.register_instrument(LOCKIN, lab.id)
    theirs = db.register_instrument({**LOCKIN, "name": "Magnet"}, other_lab.id)
    db.bind_instrument_to_computer(ours.id, "central")
    db.bind_instrument_to_computer(theirs.id, computer_id=server.id)

    every = db.get_computer_bindings("central")  # no lab: the server computer, all its labs
    assert [b["instrument"]["name"] for b in every] == ["Lock-in", "Magnet"]
    only_ours = db.get_computer_bindings(computer_id=server.id, lab_id=lab.id)
    assert [b["instrument"]["id"] for b in only_ours] == [ours.id]
    assert [i.name for i in db.get_instruments_for_computer("central", lab_id=other_lab.id)] == [
        "Magnet"
    ]


def test_a_name_two_computers_answer_to_is_refused(db, lab) -> None:
    db.register_computer(info(machine="a", name="twin"), lab.id)
    db.register_computer(info(machine="b", name="twin"), lab.id)
    lockin = db.register_instrument(LOCKIN, lab.id)
    with pytest.raises(AmbiguousComputerError, match="by its id"):
        db.bind_instrument_to_computer(lockin.id, "twin")
    with pytest.raises(ValueError, match="id or its name"):
        db.bind_instrument_to_computer(lockin.id)
    with pytest.raises(NotFoundError):
        db.bind_instrument_to_computer(lockin.id, "nobody")
    with pytest.raises(NotFoundError):
        db.bind_instrument_to_computer(987654, "twin")


def test_options_must_be_a_json_object(db, lab) -> None:
    db.register_computer(info(), lab.id)
    lockin = db.register_instrument(LOCKIN, lab.id)
    with pytest.raises(ValueError, match="dict"):
        db.bind_instrument_to_computer(lockin.id, "LABPC-01", options=["baud", 9600])
    with pytest.raises(ValueError, match="JSON"):
        db.bind_instrument_to_computer(lockin.id, "LABPC-01", options={"at": object()})
    with pytest.raises(ValueError, match="JSON"):
        db.bind_instrument_to_computer(lockin.id, "LABPC-01", last_settings={"x": float("nan")})


def _approved_definition(db: DatabaseService, lab_id: int) -> int:
    """A definition with an approved version 1 and a newer draft 2."""
    code = "class MyLockIn(Instrument): ...\n"
    with db.session() as session:
        definition = InstrumentDefinition(
            lab_id=lab_id,
            name="MyLockIn",
            display_name="My lock-in",
            instrument_type="measurement",
            base_class="Instrument",
            version=2,
            approved_version=1,
            data_columns=["X (V)"],
        )
        session.add(definition)
        session.flush()
        for version, source, status in ((1, code, "approved"), (2, "# draft", "draft")):
            session.add(
                InstrumentDefinitionVersion(
                    definition_id=definition.id,
                    version=version,
                    source_code=source,
                    code_hash=hashlib.sha256(source.encode()).hexdigest(),
                    status=status,
                )
            )
        return definition.id


def test_bindings_come_in_the_seed_plans_shape_as_plain_json(db, lab) -> None:
    computer = db.register_computer(info(), lab.id)
    definition_id = _approved_definition(db, lab.id)
    lockin = db.register_instrument(
        {**LOCKIN, "name": "Main Lock-In", "definition_id": definition_id}, lab.id
    )
    binding = db.bind_instrument_to_computer(
        lockin.id, "LABPC-01", "GPIB::8::INSTR", last_settings={"sensitivity": 1e-6}
    )
    db.record_binding_use(binding.id)

    (found,) = db.get_computer_bindings(computer_name="LABPC-01", lab_id=lab.id)

    assert json.loads(json.dumps(found)) == found  # crosses a socket as it is
    assert found["id"] == binding.id
    assert found["adapter"] == "GPIB::8::INSTR"
    assert found["adapter_type"] == "GPIB"
    assert found["last_settings"] == {"sensitivity": 1e-6}
    assert found["options"] == {}
    assert (found["computer_id"], found["computer_name"]) == (computer.id, "LABPC-01")
    assert found["is_primary"] is True
    assert isinstance(found["last_connected"], str)
    instrument = found["instrument"]
    assert (instrument["id"], instrument["name"], instrument["lab_id"]) == (
        lockin.id,
        "Main Lock-In",
        lab.id,
    )
    assert (instrument["instrument_type"], instrument["pybirch_class"]) == (
        "measurement",
        "x.SR830",
    )
    assert instrument["definition_id"] == definition_id
    definition = instrument["definition"]
    assert (definition["name"], definition["version"]) == ("MyLockIn", 1)
    assert definition["source_code"] == "class MyLockIn(Instrument): ...\n"  # not the draft
    assert definition["code_hash"] == hashlib.sha256(definition["source_code"].encode()).hexdigest()
    assert definition["data_columns"] == ["X (V)"]


def test_a_definition_without_an_approved_version_hands_out_no_code(db, lab) -> None:
    db.register_computer(info(), lab.id)
    definition_id = _approved_definition(db, lab.id)
    with db.session() as session:
        session.get(InstrumentDefinition, definition_id).approved_version = None
    lockin = db.register_instrument({**LOCKIN, "definition_id": definition_id}, lab.id)
    db.bind_instrument_to_computer(lockin.id, "LABPC-01")
    (found,) = db.get_computer_bindings("LABPC-01", lab_id=lab.id)
    assert found["instrument"]["definition"]["source_code"] is None
    assert found["instrument"]["definition"]["code_hash"] is None
    plain = db.register_instrument({**LOCKIN, "name": "Plain"}, lab.id)
    db.bind_instrument_to_computer(plain.id, "LABPC-01")
    names = {
        b["instrument"]["name"]: b for b in db.get_computer_bindings("LABPC-01", lab_id=lab.id)
    }
    # An instrument with no stored definition is made by its installed driver class.
    installed = names["Plain"]["instrument"]["definition"]
    assert installed["pybirch_class"] == LOCKIN["pybirch_class"]
    assert installed["source_code"] is None
    assert installed["id"] is None


def test_bindings_of_a_lab_computer_are_read_in_its_lab_only(db, lab, other_lab) -> None:
    computer = db.register_computer(info(), lab.id)
    with pytest.raises(NotFoundError):
        db.get_computer_bindings(computer_id=computer.id, lab_id=other_lab.id)
    with pytest.raises(NotFoundError):
        db.get_computer_bindings("LABPC-01", lab_id=other_lab.id)
    with pytest.raises(NotFoundError):
        db.get_computer_bindings("LABPC-01")  # no lab: the server computers only
    with pytest.raises(NotFoundError):
        db.get_instruments_for_computer(computer_id=computer.id, lab_id=other_lab.id)
    assert db.get_computer_bindings("LABPC-01", lab_id=lab.id) == []


def test_record_binding_use_writes_back_adapter_and_settings(db, lab, other_lab) -> None:
    db.register_computer(info(), lab.id)
    lockin = db.register_instrument(LOCKIN, lab.id)
    binding = db.bind_instrument_to_computer(lockin.id, "LABPC-01")

    used = db.record_binding_use(
        binding.id, adapter="USB0::1::2::INSTR", settings={"phase": 45.0}, lab_id=lab.id
    )

    assert (used.adapter, used.adapter_type, used.last_settings) == (
        "USB0::1::2::INSTR",
        "USB",
        {"phase": 45.0},
    )
    assert used.last_connected is not None
    stored = db.get_instrument(lockin.id)
    assert (stored.adapter, stored.last_settings) == ("USB0::1::2::INSTR", {"phase": 45.0})
    assert stored.last_connected == used.last_connected

    quiet = db.record_binding_use(binding.id, settings={"phase": 0.0}, connected=False)
    assert quiet.last_connected == used.last_connected
    assert quiet.adapter == "USB0::1::2::INSTR"
    with pytest.raises(NotFoundError):
        db.record_binding_use(binding.id, settings={}, lab_id=other_lab.id)
    with pytest.raises(NotFoundError):
        db.record_binding_use(987654)
    assert db.get_instrument(lockin.id).last_settings == {"phase": 0.0}


# -- instruments per computer --------------------------------------------------------------


def test_two_computers_each_have_their_own_lock_in(db, lab) -> None:
    a = db.register_computer(info(machine="a", name="PC-A"), lab.id)
    b = db.register_computer(info(machine="b", name="PC-B"), lab.id)
    on_a = db.register_instrument_on_computer(
        {**LOCKIN, "adapter": "GPIB0::8::INSTR"}, lab.id, a.id
    )
    on_b = db.register_instrument_on_computer(LOCKIN, lab.id, b.id)
    servers = db.register_instrument(LOCKIN, lab.id)
    assert len({on_a.id, on_b.id, servers.id}) == 3

    again = db.register_instrument_on_computer(
        {**LOCKIN, "last_settings": {"phase": 3.0}}, lab.id, a.id
    )
    assert again.id == on_a.id
    assert db.get_instrument(on_a.id).last_settings == {"phase": 3.0}
    assert db.register_instrument(LOCKIN, lab.id).id == servers.id
    assert [i.id for i in db.get_instruments_for_computer(computer_id=a.id)] == [on_a.id]
    assert [i.id for i in db.get_instruments_for_computer("PC-B", lab_id=lab.id)] == [on_b.id]
    (binding,) = db.get_computer_bindings(computer_id=a.id)
    assert (binding["adapter"], binding["adapter_type"]) == ("GPIB0::8::INSTR", "GPIB")
    assert db.get_instrument_by_name("Lock-in", lab.id, computer_id=b.id).id == on_b.id
    assert db.get_instrument_by_name("Lock-in", lab.id).id == servers.id


def test_an_instrument_is_registered_only_on_a_computer_of_its_lab(db, lab, other_lab) -> None:
    theirs = db.register_computer(info(machine="t"), other_lab.id)
    with pytest.raises(NotFoundError):
        db.register_instrument_on_computer(LOCKIN, lab.id, theirs.id)
    with pytest.raises(NotFoundError):
        db.register_instrument_on_computer(LOCKIN, None, theirs.id)
    with pytest.raises(NotFoundError):
        db.register_instrument_on_computer(LOCKIN, lab.id, 987654)
    with pytest.raises(DatabaseError, match="needs a name"):
        db.register_instrument_on_computer({"name": " "}, other_lab.id, theirs.id)
    with pytest.raises(DatabaseError, match="cannot set"):
        db.register_instrument_on_computer({**LOCKIN, "lab_id": lab.id}, other_lab.id, theirs.id)
    with pytest.raises(DatabaseError, match="unknown instrument type"):
        db.register_instrument_on_computer(
            {**LOCKIN, "instrument_type": "toaster"}, other_lab.id, theirs.id
        )
    server = db.register_computer(info(machine="s"))
    assert db.register_instrument_on_computer(LOCKIN, lab.id, server.id).lab_id == lab.id
    assert db.search_instruments(lab_id=other_lab.id).total == 0


def test_register_instrument_takes_a_description_not_an_object(db) -> None:
    with pytest.raises(TypeError, match="describe_instrument"):
        db.register_instrument(FakeLockin("Lock-in"))


def test_a_computers_status_reaches_only_its_own_instruments(db, lab) -> None:
    a = db.register_computer(info(machine="a", name="PC-A"), lab.id)
    b = db.register_computer(info(machine="b", name="PC-B"), lab.id)
    on_a = db.register_instrument_on_computer(LOCKIN, lab.id, a.id)
    stage_a = db.register_instrument_on_computer(
        {"name": "Stage", "instrument_type": "movement"}, lab.id, a.id
    )
    on_b = db.register_instrument_on_computer(LOCKIN, lab.id, b.id)
    servers = db.register_instrument(LOCKIN, lab.id)
    for record in (on_a, stage_a, on_b, servers):
        db.update_instrument_status(record.id, "connected")

    changed = db.set_computer_instruments_status(a.id, "offline")

    assert [i.id for i in changed] == [on_a.id, stage_a.id]
    assert {db.get_instrument(i).status for i in (on_a.id, stage_a.id)} == {"offline"}
    assert db.get_instrument(on_b.id).status == "connected"
    assert db.get_instrument(servers.id).status == "connected"
    assert [h.status for h in db.get_instrument_status_history(on_a.id)] == [
        "offline",
        "connected",
    ]
    assert [h.status for h in db.get_instrument_status_history(on_b.id)] == ["connected"]
    with pytest.raises(NotFoundError):
        db.set_computer_instruments_status(987654, "offline")


def test_deleting_a_computer_keeps_its_instruments_unbound(db, lab) -> None:
    computer, _ = db.create_computer(lab.id, "Raman PC")
    lockin = db.register_instrument_on_computer(LOCKIN, lab.id, computer.id)
    db.delete_computer(computer.id)
    assert db.get_instrument(lockin.id).name == "Lock-in"
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM computer_bindings")) == 0


def test_the_equipment_manager_registers_on_a_computer(db, lab) -> None:
    a = db.register_computer(info(machine="a", name="PC-A"), lab.id)
    b = db.register_computer(info(machine="b", name="PC-B"), lab.id)
    lockin = FakeLockin("Lock-in")
    on_a = EquipmentManager(db, lab.id).register_on_computer(lockin, a.id)
    manager_b = EquipmentManager(db, lab.id, computer_id=b.id)
    on_b = manager_b.register(lockin, manufacturer="Stanford")
    assert on_a.id != on_b.id
    assert manager_b.register(lockin).id == on_b.id
    assert db.get_instrument(on_b.id).manufacturer == "Stanford"
    assert on_a.pybirch_class == "pybirch.instruments.simulated.lockin.FakeLockin"
    lockin.settings = {"phase": -45.0, "time_constant": 0.3}
    manager_b.update_status(on_b.id, "connected", lockin)
    assert manager_b.last_settings("Lock-in") == lockin.settings
    assert EquipmentManager(db, lab.id, computer_id=a.id).last_settings("Lock-in") != (
        lockin.settings
    )
    assert describe_instrument(FakeStage("X"))["instrument_type"] == "movement"


def test_auto_discovery_on_startup_as_the_seed_plan_shows(
    db, lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYBIRCH_COMPUTER_NAME", "LABPC-01")
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "labpc-01-id")
    computer_info = get_computer_info()
    computer = db.register_computer(computer_info, lab.id)
    lockin = db.register_instrument({**LOCKIN, "name": "Main Lock-In"}, lab.id)
    db.bind_instrument_to_computer(
        lockin.id,
        computer_name=get_computer_info()["computer_name"],
        adapter="GPIB::8::INSTR",
    )

    bindings = db.get_computer_bindings(computer_name="LABPC-01", lab_id=lab.id)

    assert [(b["instrument"]["name"], b["adapter"]) for b in bindings] == [
        ("Main Lock-In", "GPIB::8::INSTR")
    ]
    assert bindings == db.get_computer_bindings(computer_id=computer.id)
