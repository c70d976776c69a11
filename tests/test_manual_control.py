"""A station's manual control as an agent answers it over the link: what it finds, what it
refuses, and how an instrument's failure crosses back (a message, marked as a failure)."""

from __future__ import annotations

import time

import pytest

from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.station import Station, StationError, StationIdentity
from pybirch.station.manual_control import InstrumentActionError, ManualTarget, Reading, within
from pybirch.station.wire import (
    answer_measure,
    answer_move,
    moved_from_answer,
    reading_from_answer,
)


@pytest.fixture
def lab(db):
    return db.create_lab("Bench Lab")


@pytest.fixture
def station(db, lab):
    """A one-lab station (an agent's) offered the demo's instruments in Python."""
    station = Station(
        db,
        InstrumentSet(*demo_instruments(0.0)),
        identity=StationIdentity(computer_id=7, name="Bench PC", lab_id=lab.id),
    )
    yield station
    station.close()


def message(lab_id: int, name: str, **fields) -> dict:
    return {"instrument": {"binding_id": 1, "name": name, "lab_id": lab_id}, **fields}


def test_a_move_and_a_reading_cross_the_link(station, lab):
    moved = moved_from_answer(answer_move(station, message(lab.id, "Stage X", position=7.5)))
    assert (moved.position, moved.units) == (7.5, "mm")
    assert station.instruments.get("Stage X").position == 7.5
    reading = reading_from_answer(answer_measure(station, message(lab.id, "Multimeter")))
    assert reading.columns == ["voltage", "current"]
    assert reading.units == ["V", "A"]
    assert len(reading.rows) == 1


def test_refusals_and_failures_are_told_apart(station, lab, monkeypatch):
    outside = answer_move(station, message(lab.id, "Stage X", position=-1))
    assert outside["ok"] is False
    assert "failed" not in outside
    with pytest.raises(StationError, match="outside the limits"):
        moved_from_answer(outside)

    def broken():
        raise OSError("VI_ERROR_CONN_LOST")

    monkeypatch.setattr(station.instruments.get("Lock-in"), "perform_measurement", broken)
    failed = answer_measure(station, message(lab.id, "Lock-in"))
    assert failed == {
        "ok": False,
        "error": "Lock-in: OSError: VI_ERROR_CONN_LOST",
        "failed": True,
    }
    with pytest.raises(InstrumentActionError, match="VI_ERROR_CONN_LOST"):
        reading_from_answer(failed)


def test_what_a_station_does_not_hold_or_another_lab_asks_is_refused(station, lab):
    with pytest.raises(StationError, match="Oscilloscope is not loaded on Bench PC"):
        station.measure_once(ManualTarget(1, "Oscilloscope", lab.id))
    with pytest.raises(StationError, match="belongs to another lab"):
        station.move(ManualTarget(1, "Stage X", lab.id + 1), 3.0)
    with pytest.raises(StationError, match="measures; it does not move"):
        station.move(ManualTarget(1, "Lock-in", lab.id), 3.0)
    with pytest.raises(StationError, match="not a position"):
        station.move(ManualTarget(1, "Stage X", lab.id), "north")  # type: ignore[arg-type]
    bad = answer_move(station, {"instrument": "Stage X", "position": 1})
    assert bad["ok"] is False
    assert bad["error"].startswith("bad request")
    assert station.instruments.get("Stage X").position == 0.0


def test_a_call_that_does_not_return_in_time_is_given_up():
    with pytest.raises(InstrumentActionError, match="reading the lock-in did not finish within"):
        within(0.05, "reading the lock-in", lambda: time.sleep(2))
    with pytest.raises(ZeroDivisionError):
        within(5, "dividing", lambda: 1 / 0)
    assert within(5, "adding", lambda: 1 + 1) == 2


def test_a_reading_keeps_its_shape_and_turns_nan_into_none():
    reading = Reading.of(["x", "y"], ["nm", "counts"], [[1.0, float("nan")], [2.0, 3.0]])
    assert reading.rows == [[1.0, None], [2.0, 3.0]]
    assert reading.is_array
    assert Reading.from_dict(reading.to_dict()) == reading
    with pytest.raises(InstrumentActionError, match="more than a page shows"):
        Reading.of(["v"], ["V"], [[0.0]] * 1_000_001)


def test_settings_the_record_cannot_take_are_said_to_be_set_but_not_kept(station, lab):
    # binding 1 is no binding of this database: the live stage changes, the record cannot
    with pytest.raises(StationError, match="has the new settings, but they were not written"):
        station.apply_settings(ManualTarget(1, "Stage X", lab.id), {"speed": 4.0})
    assert station.instruments.get("Stage X").settings["speed"] == 4.0
