"""A pyvisa-sim instrument unplugged mid-scan: the scan pauses, and resumes once it is back."""

from __future__ import annotations

import numpy as np
import pytest

from pybirch.instruments.catalogue import InstrumentSet
from pybirch.instruments.drivers import SR830, Keithley2400CurrentSource
from pybirch.instruments.simulated import KEITHLEY2400_RESOURCE, SIM_BACKEND, SR830_RESOURCE
from pybirch.queue import ScanState
from pybirch.station import Station, StationIdentity
from pybirch.station.wire import answer_enqueue
from visa_unplug import VisaPlug

WAIT = 60.0
CURRENTS = np.linspace(-1e-3, 1e-3, 9)


@pytest.fixture
def lab(db):
    return db.create_lab("VISA Lab")


@pytest.fixture
def station(db, lab, monkeypatch):
    monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "0.5")  # back-off: 0.05 s, then 0.1 s
    monkeypatch.setenv("AUTO_RECONNECT_ATTEMPTS", "3")
    computer = db.register_computer(
        {"computer_name": "VISA-PC", "computer_id": "visa-machine", "os": "Linux"}, lab.id
    )
    source = Keithley2400CurrentSource("Source", adapter=KEITHLEY2400_RESOURCE, backend=SIM_BACKEND)
    lockin = SR830("Lock-in", adapter=SR830_RESOURCE, backend=SIM_BACKEND)
    station = Station(
        db,
        InstrumentSet(source, lockin),
        identity=StationIdentity(computer.id, "VISA-PC", lab.id),
    )
    station.register_offered([source, lockin])
    yield station
    station.close()


def run_sweep(station, lab):
    events = []
    station.bus.subscribe(lambda e: e.name == "instrument_status" and events.append(e))
    reply = answer_enqueue(
        station,
        {
            "lab_id": lab.id,
            "design": {
                "scan_name": "iv",
                "axes": [{"instrument": "Source", "start": -1e-3, "stop": 1e-3, "points": 9}],
                "measurements": ["Lock-in"],
            },
            "queue": {"name": "visa queue"},
            "start": True,
        },
    )
    assert reply["ok"], reply
    queue = station.queue(reply["queue_id"])
    assert queue.wait_for_completion(WAIT)
    return queue, queue.get_handle(reply["scan_id"]), events


def lockin_history(db, lab, station):
    record = db.get_instrument_by_name("Lock-in", lab.id, computer_id=station.identity.computer_id)
    newest_first = db.get_instrument_status_history(record.id)
    return [(each.status, each.error_message) for each in reversed(newest_first)]


def test_unplugged_mid_scan_and_plugged_back_the_scan_resumes_with_every_point_once(
    db, lab, station, monkeypatch
):
    plug = VisaPlug(SR830_RESOURCE, monkeypatch)
    plug.pull_on("SNAP? 1,2,3,4", occurrence=5)  # the fifth point's reading
    plug.back_after = 2  # two reconnection attempts fail, the third finds it

    queue, handle, events = run_sweep(station, lab)

    assert handle.state is ScanState.COMPLETED, handle.error_message
    assert plug.refused_opens == 2
    record = db.get_scan(handle.scan_id, with_settings=False)
    data = db.read_measurement(db.find_measurement_object(record.id, "Lock-in").id)
    np.testing.assert_array_equal(data.point_index, np.arange(9))  # no hole, no duplicate
    np.testing.assert_allclose(data["current (A)"], CURRENTS)
    assert record.status == "completed"
    # the lock-in went disconnected, then connected again, in its history and live
    history = lockin_history(db, lab, station)
    statuses = [status for status, _ in history]
    lost = statuses.index("disconnected")
    assert "connected" in statuses[lost:]
    assert "InstrumentDisconnectedError" in history[lost][1]
    live = [(e.status, e.instrument) for e in events if e.instrument == "Lock-in"]
    assert ("disconnected", "Lock-in") in live
    assert live.index(("connected", "Lock-in")) > live.index(("disconnected", "Lock-in"))
    messages = [entry.message for entry in queue.get_logs(level="WARNING")]
    assert any("Lock-in stopped answering" in message for message in messages), messages


def test_an_instrument_that_never_comes_back_fails_the_scan_with_the_error(
    db, lab, station, monkeypatch
):
    plug = VisaPlug(SR830_RESOURCE, monkeypatch)
    plug.pull_on("SNAP? 1,2,3,4", occurrence=3)

    _, handle, events = run_sweep(station, lab)

    assert handle.state is ScanState.FAILED
    assert "no answer after 3 reconnection attempt(s)" in handle.error_message
    assert plug.refused_opens == 3
    record = db.get_scan(handle.scan_id, with_settings=False)
    assert record.status == "failed"
    assert "no answer after 3 reconnection attempt(s)" in record.error_message
    data = db.read_measurement(db.find_measurement_object(record.id, "Lock-in").id)
    np.testing.assert_array_equal(data.point_index, np.arange(2))  # the points before the loss
    history = lockin_history(db, lab, station)
    assert history[-1][0] == "disconnected"
    assert "no answer after 3 reconnection attempt(s)" in history[-1][1]
    assert any(e.status == "disconnected" and e.error for e in events)
