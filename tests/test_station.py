"""A station answers the server's requests and takes back its queues after a restart."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
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
