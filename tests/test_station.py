"""A station answers the server's requests and takes back its queues after a restart."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pybirch.demo.web_lab import bind_demo_instruments, demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.instruments.driver_files import module_name_for
from pybirch.queue import QueueState, ScanState
from pybirch.station import Action, Station, StationError, StationIdentity, UnknownActionError
from pybirch.station.wire import answer_control, answer_enqueue


@pytest.fixture
def lab(db):
    return db.create_lab("Station Lab")


@pytest.fixture
def station(db, lab):
    station = Station(
        db,
        InstrumentSet(*demo_instruments(0.0)),
        identity=StationIdentity(computer_id=7, name="Raman PC", lab_id=lab.id),
    )
    yield station
    station.close()


def design(points: int = 5, **changes) -> dict:
    return {
        "scan_name": "line",
        "axes": [{"instrument": "Stage X", "start": 0, "stop": 1, "points": points}],
        "measurements": ["Lock-in"],
        **changes,
    }


def request(lab_id: int, **changes) -> dict:
    return {
        "lab_id": lab_id,
        "design": design(),
        "queue": {"name": "station queue"},
        "operator": "mia",
        "start": True,
        **changes,
    }


def test_a_scan_is_queued_started_recorded_and_controlled(station, lab, db):
    reply = answer_enqueue(station, request(lab.id))
    assert reply["ok"], reply
    queue = station.queue(reply["queue_id"])
    assert queue.wait_for_completion(30)
    assert queue.get_handle(reply["scan_id"]).state is ScanState.COMPLETED
    assert db.get_queue(reply["queue_id"]).extra_data["computer_id"] == 7
    refused = answer_control(station, {"queue_id": reply["queue_id"], "action": "resume"})
    assert refused == {"ok": False, "error": "cannot resume the queue while it is idle"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"design": design(measurements=["Nothing"])}, "measure", "no instrument 'Nothing'"),
        ({"design": {"scan_name": "x"}}, "scan", "not a scan design"),
        ({"queue": {"name": " "}}, "new_queue", "name the new queue"),
        ({"queue": {"id": 999}}, "queue", "does not run that queue"),
        ({"sample_id": 123456}, "sample_id", "no such sample"),
        ({"sample_id": "x"}, "scan", "bad enqueue request"),
    ],
)
def test_a_bad_enqueue_request_is_answered_by_field_and_queues_nothing(
    station, lab, changes, field, words
):
    reply = answer_enqueue(station, request(lab.id, **changes))
    assert reply["ok"] is False
    assert words in reply["errors"][field]
    assert station.queues() == []


def test_another_labs_request_and_unknown_controls_are_refused(station, lab):
    assert "another lab" in answer_enqueue(station, request(999))["errors"]["scan"]
    assert (
        "does not run queue 5"
        in answer_control(station, {"queue_id": 5, "action": "pause"})["error"]
    )
    assert "bad request" in answer_control(station, {"action": "pause"})["error"]
    queue_id = answer_enqueue(station, request(lab.id, start=False))["queue_id"]
    unknown = answer_control(station, {"queue_id": queue_id, "action": "explode"})
    assert unknown == {"ok": False, "error": "unknown queue action 'explode'"}
    with pytest.raises(UnknownActionError, match="started by starting its queue"):
        station.control(queue_id, Action.START, scan_id="anything")


def test_a_queue_of_another_lab_on_the_same_station_cannot_be_joined(db, lab):
    other = db.create_lab("Other Lab")
    station = Station(db, InstrumentSet(*demo_instruments(0.0)), identity=None)
    try:
        theirs = answer_enqueue(station, request(other.id, start=False))
        joined = answer_enqueue(station, request(lab.id, queue={"id": theirs["queue_id"]}))
        assert "does not run that queue" in joined["errors"]["queue"]
        assert len(station.queue(theirs["queue_id"])) == 1
    finally:
        station.close()


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_restarted_station_takes_back_its_open_queues_and_their_waiting_scans(db, lab):
    identity = StationIdentity(computer_id=11, name="Optics PC", lab_id=lab.id)
    before = Station(db, InstrumentSet(*demo_instruments(0.0)), identity=identity)
    waiting = answer_enqueue(before, request(lab.id, start=False))
    queue_id = waiting["queue_id"]
    running = answer_enqueue(before, request(lab.id, start=False, queue={"name": "cut short"}))
    elsewhere = Station(
        db, InstrumentSet(*demo_instruments(0.0)), identity=StationIdentity(12, "Other PC", lab.id)
    )
    answer_enqueue(elsewhere, request(lab.id, start=False, queue={"name": "not mine"}))
    # The process dies: nothing is closed; one queue was running in it, by its record.
    db.update_queue(
        running["queue_id"],
        status="running",
        extra_data={**db.get_queue(running["queue_id"]).extra_data, "pid": dead_pid()},
    )

    after = Station(db, InstrumentSet(*demo_instruments(0.0)), identity=identity)
    try:
        assert after.adopt() == 2
        assert {summary.name for summary in after.queues()} == {"station queue", "cut short"}
        assert after.adopt() == 0  # taken already
        queue = after.queue(queue_id)
        (handle,) = queue.handles  # the waiting scan, queued again
        assert handle.state is ScanState.QUEUED
        assert after.control(queue_id, "start") == "running"
        assert queue.wait_for_completion(30)
        assert handle.state is ScanState.COMPLETED
        assert db.get_scan(waiting["scan_id"]).extra_data["requeued_as"] == handle.scan_id
        assert after.queue(running["queue_id"]).state is QueueState.IDLE
        assert any("taken back" in entry.message for entry in db.get_queue_logs(queue_id))
    finally:
        after.close()
        elsewhere.close()


def test_a_station_that_does_not_know_its_computer_cannot_take_back_queues(db):
    with pytest.raises(StationError, match="which computer it is"):
        Station(db).adopt()


# -- the instruments bound to the station's computer ---------------------------------------

DRIVER_FILE = '''
import numpy as np
from pybirch.instruments.base import Measurement


class ThermometerOnTheBench(Measurement):
    """A lab's own driver, kept in its driver folder."""

    def __init__(self, name="Thermometer", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["T"])
        self.data_units = np.array(["K"])

    def perform_measurement(self):
        return np.array([[4.2]])
'''


@pytest.fixture
def this_computer(db, lab, monkeypatch, tmp_path):
    """A station registered as this computer, the demo's instruments bound to it."""
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "station-test-machine")
    monkeypatch.setenv("PYBIRCH_DRIVERS_DIR", str(tmp_path / "drivers"))
    station = Station(db)
    identity = station.register_as_this_computer()
    bind_demo_instruments(db, lab.id, identity.computer_id, delay=0.0)
    yield station
    station.close()


def bind(db, lab_id: int, computer_id: int, name: str, driver: str, **fields) -> None:
    record = db.register_instrument_on_computer(
        {
            "name": name,
            "instrument_type": "measurement",
            "pybirch_class": driver,
            "adapter": None,
            "last_settings": {},
        },
        lab_id,
        computer_id,
    )
    db.bind_instrument_to_computer(record.id, computer_id=computer_id, **fields)


def test_a_station_loads_its_bound_instruments_and_says_which_did_not(this_computer, db, lab):
    computer_id = this_computer.identity.computer_id
    bind(db, lab.id, computer_id, "Ghost", "somewhere.else:NoSuchDriver")

    loaded = this_computer.discover()

    names = {instrument.name for _, instrument in loaded.instruments}
    assert names == {"Stage X", "Stage Y", "Lock-in", "Current Source", "Multimeter"}
    assert {i.name for i in this_computer.instruments.all()} == names
    ((binding, why),) = loaded.failures
    assert binding["instrument"]["name"] == "Ghost"
    assert "no driver 'somewhere.else:NoSuchDriver' on this computer" in why
    by_name = {i.name: i for i in db.get_instruments_for_computer(computer_id=computer_id)}
    assert by_name["Ghost"].status == "error"
    assert by_name["Lock-in"].status == "connected"
    assert by_name["Lock-in"].last_connected is not None
    assert this_computer.instruments.get("Stage Y").settings["axis"] == "y"  # as last used


def test_a_lab_driver_file_bound_later_loads_without_a_restart(this_computer, db, lab, tmp_path):
    this_computer.discover()
    folder = tmp_path / "drivers"
    folder.mkdir()
    path = folder / "thermometer.py"
    path.write_text(DRIVER_FILE)
    driver = f"{module_name_for(path)}:ThermometerOnTheBench"
    bind(db, lab.id, this_computer.identity.computer_id, "Cold finger", driver)

    summary = this_computer.load_bound()

    assert summary.loaded == ["Cold finger"]  # only what was new
    assert summary.failed == {}
    assert this_computer.instruments.get("Cold finger").perform_measurement()[0, 0] == 4.2


def test_settings_a_scan_gave_an_instrument_are_written_back(this_computer, db, lab):
    this_computer.discover()
    slower = design(settings={"Lock-in": {"time_constant": 0.3}})
    reply = answer_enqueue(this_computer, request(lab.id, design=slower))
    assert reply["ok"], reply
    queue = this_computer.queue(reply["queue_id"])
    assert queue.wait_for_completion(30)

    bindings = db.get_computer_bindings(computer_id=this_computer.identity.computer_id)
    (lockin,) = [b for b in bindings if b["instrument"]["name"] == "Lock-in"]
    assert lockin["last_settings"]["time_constant"] == 0.3
    (stage,) = [b for b in bindings if b["instrument"]["name"] == "Stage Y"]
    assert stage["last_settings"]["axis"] == "y"
