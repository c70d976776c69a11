"""Live events of a scan: every row once, in order, coalesced; statuses as the scan lives."""

from __future__ import annotations

import time

import numpy as np

from database_builders import iv_settings
from pybirch.realtime import DataPoints, EventBus, RealtimeExtension, ScanStatus
from pybirch.realtime.extension import MAX_MESSAGES_PER_SECOND
from pybirch.scan import Scan, ScanState


def collect(bus: EventBus) -> list:
    events: list = []
    bus.subscribe(events.append)
    return events


def test_every_row_arrives_once_in_order_and_fast_scans_are_coalesced():
    bus = EventBus()
    events = collect(bus)
    settings, meter = iv_settings(points=3_000)
    scan = Scan(settings, extensions=[RealtimeExtension(bus, "abc", lab_id=7)], buffer_size=10)
    started = time.monotonic()
    assert scan.run() is ScanState.COMPLETED
    elapsed = time.monotonic() - started

    data = [event for event in events if isinstance(event, DataPoints)]
    assert [d.first_row for d in data] == list(
        np.cumsum([0] + [len(d.data["voltage (V)"]) for d in data[:-1]])
    )
    voltages = np.concatenate([d.data["voltage (V)"] for d in data])
    assert np.array_equal(voltages, meter.rows()[:, 0])
    assert np.concatenate([d.data["point_index"] for d in data]).tolist() == list(range(3_000))
    # 300 batches of 10 rows, but at most ~20 messages a second (plus the final flush).
    assert len(data) <= elapsed * MAX_MESSAGES_PER_SECOND + 2
    assert all(d.lab_id == 7 and d.scan_id == "abc" for d in data)

    statuses = [event.status for event in events if isinstance(event, ScanStatus)]
    assert statuses[0] == "running"
    assert statuses[-1] == "completed"
    final = [event for event in events if isinstance(event, ScanStatus)][-1]
    assert final.progress == 1.0


def test_a_failing_subscriber_never_stops_the_scan_or_the_others():
    bus = EventBus()
    events = collect(bus)

    def broken(_event) -> None:
        raise RuntimeError("browser gone")

    bus.subscribe(broken)
    settings, _ = iv_settings(points=50)
    scan = Scan(settings, extensions=[RealtimeExtension(bus, "x")])
    assert scan.run() is ScanState.COMPLETED
    assert sum(len(e.data["voltage (V)"]) for e in events if isinstance(e, DataPoints)) == 50


def test_unsubscribed_listeners_hear_nothing_more():
    bus = EventBus()
    events: list = []
    stop = bus.subscribe(events.append)
    bus.publish(ScanStatus("a", "running", 0.0))
    stop()
    bus.publish(ScanStatus("a", "completed", 1.0))
    assert [e.status for e in events] == ["running"]
