"""A lab computer with only its token: its station's records and points through the gateway.

The agent side is the real :class:`ServerDatabase` talking HTTP to a real server socket
(the app in this process, stopped and started again for a "server restart"); the
database is checked directly: every row stored, once, in order, with the values measured.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from database_builders import Hold, iv_settings, wait_until
from gateway_support import GatewayLab, gateway_lab
from pybirch.agent.server_database import GatewayTokenError, ServerDatabase
from pybirch.database import DatabaseService
from pybirch.database.errors import DataIntegrityError
from pybirch.database.models import MeasurementChunk, MeasurementObject
from pybirch.database.storage import ChunkData, Layout, encode
from pybirch.database_integration import DataManager, OverdueInstrumentError
from pybirch.realtime.gateway_protocol import RecordFields, pack, unpack
from pybirch.scan import Scan
from pybirch.station import Station, StationIdentity
from pybirch.web import agent_gateway_methods

PATIENCE = 120.0


@pytest.fixture
def lab(database_url: str):
    with gateway_lab(database_url) as served:
        yield served


def agent_station(lab: GatewayLab, db: ServerDatabase | None = None) -> Station:
    """The station of the lab's computer, on a database it reaches only through the server."""
    identity = StationIdentity(lab.computer_id, lab.computer_name, lab.lab_id)
    return Station(db or lab.agent_database(), identity=identity)


def stored_chunks(db: DatabaseService, scan_record_id: int) -> list[tuple[int, int]]:
    """(first row, row count) of every stored chunk of a scan's measurement, by first row."""
    with db.session() as session:
        return [
            (first, count)
            for first, count in session.execute(
                select(MeasurementChunk.first_row, MeasurementChunk.row_count)
                .join(MeasurementObject)
                .where(MeasurementObject.scan_id == scan_record_id)
                .order_by(MeasurementChunk.first_row)
            )
        ]


def assert_stored_once(db: DatabaseService, scan_record_id: int, rows: np.ndarray) -> None:
    """Every measured row is stored exactly once, in order, with the values measured."""
    chunks = stored_chunks(db, scan_record_id)
    assert chunks, "nothing stored"
    position = 0
    for first, count in chunks:
        assert first == position, f"rows {position}..{first - 1} missing or stored twice"
        position += count
    assert position == len(rows)
    data = db.read_scan_data(scan_record_id)
    assert np.array_equal(data.point_index, np.arange(len(rows)))
    assert np.array_equal(data.columns["voltage (V)"], rows[:, 0])


def run_scan(station: Station, lab: GatewayLab, points: int, hold_at: int | None = None):
    """An IV sweep on the station's queue; returns (handle, meter, queue, hold)."""
    settings, meter = iv_settings(points=points)
    hold = None
    if hold_at is not None:
        hold = Hold(timeout=PATIENCE)
        meter.before_reading[hold_at] = hold
    queue = station.open_queue(lab.lab_id, "gateway queue", None)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    return handle, meter, queue, hold


def test_a_scan_on_a_token_only_station_is_stored_through_the_server(lab: GatewayLab) -> None:
    station = agent_station(lab)
    handle, meter, queue, _ = run_scan(station, lab, 3000)
    assert queue.wait_for_completion(PATIENCE)
    record = lab.db.get_scan(handle.scan_id)
    assert record.status == "completed"
    assert record.points_done == 3000
    assert record.lab_id == lab.lab_id
    assert lab.db.get_queue(record.queue_id).extra_data["computer_id"] == lab.computer_id
    assert_stored_once(lab.db, record.id, meter.rows())
    logs = [entry.message for entry in lab.db.get_queue_logs(record.queue_id)]
    assert logs, "the queue's log reached the database"
    station.close()


def test_a_token_only_stations_scan_on_an_overdue_instrument_warns_or_is_refused(
    lab: GatewayLab,
) -> None:
    meter = lab.db.register_instrument_on_computer(
        {"name": "Multimeter", "instrument_type": "measurement"}, lab.lab_id, lab.computer_id
    )
    since = date.today() - timedelta(days=5)
    lab.db.record_calibration(
        meter.id, lab_id=lab.lab_id, calibrated_on=since - timedelta(days=365), due_on=since
    )
    station = agent_station(lab)
    handle, _, queue, _ = run_scan(station, lab, 20)
    assert queue.wait_for_completion(PATIENCE)
    record = lab.db.get_scan(handle.scan_id)
    message = f"Multimeter on Raman PC calibration overdue since {since.isoformat()}"
    assert record.status == "completed"
    assert [w["message"] for w in record.extra_data["equipment_warnings"]] == [message]
    assert ("WARNING", message) in [(e.level, e.message) for e in lab.db.get_scan_logs(record.id)]

    lab.db.update_lab(lab.lab_id, block_overdue_scans=True)
    settings, _ = iv_settings(points=20)
    with pytest.raises(OverdueInstrumentError, match="this lab blocks scans on overdue"):
        queue.enqueue(Scan(settings))
    assert len(lab.db.get_queue_with_scans(queue.db_queue_id).scans) == 1  # no new record
    station.close()


def test_the_server_restarting_mid_scan_loses_and_doubles_nothing(lab: GatewayLab) -> None:
    station = agent_station(lab)
    handle, meter, queue, hold = run_scan(station, lab, 6000, hold_at=2000)
    hold.wait_reached()
    lab.stop()  # the server goes away while the scan is a third done
    hold.release()
    wait_until(lambda: len(meter.readings) >= 4000, PATIENCE, "the scan to measure on")
    lab.start()  # a new server process on the same port and database
    assert queue.wait_for_completion(PATIENCE)
    record = lab.db.get_scan(handle.scan_id)
    assert record.status == "completed"
    assert_stored_once(lab.db, record.id, meter.rows())
    station.close()


def test_a_chunk_is_released_only_once_the_server_committed_it(
    lab: GatewayLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server fails once before its commit and once after it, without answering."""
    real_commit = agent_gateway_methods.commit_chunks
    failures = ["before the commit", "after the commit"]
    attempts: list[str] = []

    def failing_commit(*args, **kwargs) -> None:
        if failures:
            when = failures.pop(0)
            attempts.append(when)
            if when == "after the commit":
                real_commit(*args, **kwargs)
            raise OperationalError("commit", {}, Exception(f"the server fails {when}"))
        attempts.append("answered")
        real_commit(*args, **kwargs)

    monkeypatch.setattr(agent_gateway_methods, "commit_chunks", failing_commit)
    station = agent_station(lab)
    handle, meter, queue, _ = run_scan(station, lab, 2000)
    assert queue.wait_for_completion(PATIENCE)
    assert attempts[:3] == ["before the commit", "after the commit", "answered"]
    record = lab.db.get_scan(handle.scan_id)
    assert_stored_once(lab.db, record.id, meter.rows())
    station.close()


def test_spooled_chunks_are_replayed_through_the_server_after_an_agent_restart(
    lab: GatewayLab,
) -> None:
    agent_db = lab.agent_database()
    identity = agent_db.database_identity()
    assert identity == lab.db.database_identity()  # the spool is the server database's
    station = agent_station(lab, agent_db)
    handle, meter, queue, hold = run_scan(station, lab, 3000, hold_at=1000)
    hold.wait_reached()
    lab.stop()
    hold.release()
    wait_until(lambda: len(meter.readings) >= 3000, PATIENCE, "the scan to measure to its end")
    # The agent stops (as a killed one would leave it): its writer gives up, the spool stays.
    queue.data_manager.commit_wait = 0.5
    station.close(timeout=1.0)
    record = lab.db.get_scan(handle.scan_id)
    stored_before = sum(count for _, count in stored_chunks(lab.db, record.id))
    assert stored_before < 3000, "the server was away: the end of the scan cannot be stored yet"

    lab.start()
    restarted = DataManager(lab.agent_database())  # a new agent process replays its spool
    try:
        assert restarted.replayed_chunks > 0
    finally:
        restarted.close()
    assert_stored_once(lab.db, record.id, meter.rows())


def own_measurement(lab: GatewayLab) -> tuple[int, Layout]:
    """A measurement of a scan of this computer's queue, made through the gateway."""
    agent_db = lab.agent_database()
    queue = agent_db.create_or_reuse_queue("chunk queue", lab_id=lab.lab_id)
    scan = agent_db.create_scan("chunks", queue_id=queue.id, lab_id=lab.lab_id)
    layout = Layout.build(["signal (V)"], [])
    measurement = agent_db.create_measurement_object(scan.id, "signal", layout)
    return measurement.id, layout


def chunk(layout: Layout, first_row: int, rows: int):
    """Encoded rows ``first_row..`` of a one-column measurement (values = row numbers)."""
    values = np.arange(first_row, first_row + rows, dtype=float)
    data = ChunkData(
        first_row=first_row,
        first_point=first_row,
        columns=[values, values * 0.001],
        row_count=rows,
        point_count=rows,
    )
    return encode(data, layout)


def test_a_chunk_sent_twice_is_stored_once_and_an_overlap_is_refused(lab: GatewayLab) -> None:
    measurement_id, layout = own_measurement(lab)
    target = lab.agent_database().chunk_target()
    first = chunk(layout, 0, 100)
    target.commit({measurement_id: [first]}, {})
    target.commit({measurement_id: [first]}, {})  # an acknowledgement lost: sent again
    assert lab.db.get_row_count(measurement_id) == 100
    with pytest.raises(DataIntegrityError, match="overlap"):
        target.commit({measurement_id: [chunk(layout, 50, 100)]}, {})
    assert lab.db.get_row_count(measurement_id) == 100
    assert target.stored_spans(measurement_id, 0, 1000) == [(0, 100)]


def test_a_reset_token_ends_the_agents_access_at_its_next_request(lab: GatewayLab) -> None:
    agent_db = lab.agent_database()
    assert agent_db.database_identity()
    lab.db.reset_computer_token(lab.computer_id)
    with pytest.raises(GatewayTokenError):
        agent_db.get_computer_bindings(computer_id=lab.computer_id)


def test_a_restarted_token_only_station_takes_back_its_queue_and_runs_what_waited(
    lab: GatewayLab,
) -> None:
    first = agent_station(lab)
    queue = first.open_queue(lab.lab_id, "waiting queue", None)
    settings, _ = iv_settings(points=500, scan_name="waited")
    handle = queue.enqueue(Scan(settings))  # never started: it waits for the next run
    first.close()

    again = agent_station(lab)  # the agent started again: it knows its queues only by the server
    assert again.adopt() == 1
    (summary,) = again.queues(lab.lab_id)
    taken = again.queue(summary.id)
    assert taken is not None
    assert summary.name == "waiting queue"
    (rerun,) = [h for h in taken.handles if not h.state.finished]
    taken.start()
    assert taken.wait_for_completion(PATIENCE)
    record = lab.db.get_scan(rerun.scan_id)
    assert record.status == "completed"
    assert record.scan_name == "waited"
    assert sum(count for _, count in stored_chunks(lab.db, record.id)) == 500
    assert lab.db.get_scan(handle.scan_id).status == "aborted"  # ended as re-queued
    again.close()


def test_the_wire_carries_what_records_hold() -> None:
    """Arrays, days and times, bytes and nested records cross the gateway unchanged."""
    tree = {"positions": np.linspace(0.0, 1.0, 5).reshape(5, 1)}
    when = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    sent = RecordFields(
        "Instrument",
        {"id": 7, "calibration_due": date(2027, 1, 31), "last_connected": when, "png": b"\x89P"},
    )
    received = unpack(pack({"tree": tree, "record": sent, "list": [sent]}))
    assert np.array_equal(received["tree"]["positions"], tree["positions"])
    record = received["record"]
    assert (record.id, record.calibration_due, record.last_connected, record.png) == (
        7,
        date(2027, 1, 31),
        when,
        b"\x89P",
    )
    assert received["list"][0].kind == "Instrument"
    with pytest.raises(AttributeError):
        record.missing  # noqa: B018 - only what the server sent is there
    with pytest.raises(TypeError, match="does not cross"):
        pack({"objects": {1, 2}})
