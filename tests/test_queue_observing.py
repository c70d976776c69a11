"""Watching a queue: callbacks, the log and its filters, Python logging, status."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pybirch.queue import LogEntry, QueueError, QueueState, ScanState
from queue_lab import PATIENCE, Lab, Meter, Recorder


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def test_state_callbacks_follow_every_scan(lab: Lab) -> None:
    queue = lab.queue()
    states = Recorder()
    queue.add_state_callback(states)
    handles = [queue.enqueue(lab.scan(name)) for name in "ab"]
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    for handle in handles:
        seen = [state for scan_id, state in states.snapshot() if scan_id == handle.scan_id]
        assert seen == [ScanState.RUNNING, ScanState.COMPLETED]


def test_queue_state_callbacks(lab: Lab) -> None:
    queue = lab.queue()
    states = Recorder()
    queue.add_queue_state_callback(states)
    gate = lab.gate()
    queue.enqueue(lab.scan("a", gate=gate))
    queue.start()
    gate.wait_reached()
    queue.pause()
    queue.resume()
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert [args[0] for args in states.snapshot()] == [
        QueueState.RUNNING,
        QueueState.PAUSED,
        QueueState.RUNNING,
        QueueState.IDLE,
    ]


def test_progress_is_reported_at_a_bounded_rate(lab: Lab) -> None:
    queue = lab.queue(progress_interval=0.2)
    progress = Recorder()
    queue.add_progress_callback(progress)
    points = 60
    handles = [
        queue.enqueue(lab.scan(name, points=points, meter=Meter(f"{name}-m", delay=0.001)))
        for name in "ab"
    ]
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    for handle in handles:
        values = [p for scan_id, p in progress.snapshot() if scan_id == handle.scan_id]
        assert values, "no progress reported"
        assert values[-1] == 1.0
        assert values == sorted(values)
        assert all(0.0 <= v <= 1.0 for v in values)
        assert len(values) == len(set(values))  # only changes are reported
        assert len(values) < points / 2  # sampled by the monitor, not sent per point


def test_log_callbacks_receive_every_entry(lab: Lab) -> None:
    queue = lab.queue()
    entries = Recorder()
    queue.add_log_callback(entries)
    handle = queue.enqueue(lab.scan("a"))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    received = [args[0] for args in entries.snapshot()]
    assert received == queue.get_logs()
    assert all(isinstance(e, LogEntry) and e.queue_id == queue.QID for e in received)
    messages = [e.message for e in received if e.scan_id == handle.scan_id]
    assert any("queued" in m for m in messages)
    assert any("started" in m for m in messages)
    assert any("completed" in m for m in messages)


def test_raising_callbacks_are_logged_and_never_break_the_queue(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    queue = lab.queue(progress_interval=0.01)

    def broken(*_args: object) -> None:
        raise RuntimeError("observer bug")

    queue.add_log_callback(broken)
    queue.add_state_callback(broken)
    queue.add_queue_state_callback(broken)
    queue.add_progress_callback(broken)
    handles = [queue.enqueue(lab.scan(name)) for name in "ab"]
    with caplog.at_level(logging.ERROR, logger="pybirch.queue"):
        queue.start()
        assert queue.wait_for_completion(PATIENCE)
    assert [h.state for h in handles] == [ScanState.COMPLETED] * 2
    failures = [r for r in caplog.records if "callback" in r.getMessage()]
    kinds = {r.getMessage().split(" callback")[0] for r in failures}
    assert kinds == {"log", "scan state", "queue state", "progress"}
    assert all(r.exc_info and "observer bug" in str(r.exc_info[1]) for r in failures)


def test_remove_callback(lab: Lab) -> None:
    queue = lab.queue()
    entries = Recorder()
    queue.add_log_callback(entries)
    assert queue.remove_callback(entries) is True
    assert queue.remove_callback(entries) is False
    queue.enqueue(lab.scan("a"))
    assert entries.snapshot() == []


def test_every_entry_goes_to_python_logging(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    queue = lab.queue()
    broken = Meter("broken")
    broken.fail_at = 1
    with caplog.at_level(logging.DEBUG, logger="pybirch.queue"):
        handle = queue.enqueue(lab.scan("bad", meter=broken))
        queue.start()
        assert queue.wait_for_completion(PATIENCE)
    records = [r for r in caplog.records if r.name == "pybirch.queue"]
    assert len(records) == len(queue.get_logs())
    failure = next(r for r in records if r.levelno == logging.ERROR)
    assert failure.scan_id == handle.scan_id  # type: ignore[attr-defined]
    assert failure.queue_id == queue.QID  # type: ignore[attr-defined]
    assert "Traceback" in failure.getMessage()  # the scan's traceback rides along


def test_get_logs_filters(lab: Lab) -> None:
    queue = lab.queue()
    broken = Meter("broken")
    broken.fail_at = 1
    bad = queue.enqueue(lab.scan("bad", meter=broken))
    skipped = queue.enqueue(lab.scan("skipped"))
    good = queue.enqueue(lab.scan("good"))
    queue.abort_scan(skipped.scan_id)
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    everything = queue.get_logs()
    assert everything == sorted(everything, key=lambda e: e.timestamp)

    errors = queue.get_logs(level="ERROR")
    assert [e.scan_id for e in errors] == [bad.scan_id]
    warnings = queue.get_logs(level="warning")
    assert {e.level for e in warnings} == {"WARNING", "ERROR"}
    assert skipped.scan_id in {e.scan_id for e in warnings}
    assert queue.get_logs(level=logging.ERROR) == errors
    assert queue.get_logs(level="CRITICAL") == []

    about_good = queue.get_logs(scan_id=good.scan_id)
    assert about_good
    assert all(e.scan_id == good.scan_id for e in about_good)

    middle = everything[len(everything) // 2]
    after = queue.get_logs(since=middle.timestamp)
    assert after == [e for e in everything if e.timestamp > middle.timestamp]
    assert queue.get_logs(since=datetime.now(UTC)) == []

    assert queue.get_logs(limit=2) == everything[-2:]
    assert queue.get_logs(limit=0) == []
    assert queue.get_logs(level="INFO", scan_id=good.scan_id, limit=1) == about_good[-1:]
    with pytest.raises(QueueError, match="log level"):
        queue.get_logs(level="LOUD")


def test_log_is_bounded(lab: Lab) -> None:
    queue = lab.queue(max_log_entries=3)
    for i in range(5):
        queue.log("info", f"note {i}")
    assert [e.message for e in queue.get_logs()] == ["note 2", "note 3", "note 4"]


def test_log_entry_round_trip() -> None:
    entry = LogEntry(datetime.now(UTC), "WARNING", "careful", scan_id="abc", queue_id="Q")
    assert LogEntry.from_dict(entry.to_dict()) == entry
    assert entry.levelno == logging.WARNING


def test_get_status(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    running = queue.enqueue(lab.scan("a", gate=gate))
    waiting = queue.enqueue(lab.scan("b"))
    queue.start()
    gate.wait_reached()
    status = queue.get_status()
    assert status["queue_id"] == queue.QID
    assert status["state"] == "running"
    assert status["mode"] == "serial"
    assert status["max_parallel_scans"] == 1
    assert status["total_scans"] == 2
    assert status["counts"]["running"] == 1
    assert status["counts"]["queued"] == 1
    assert status["current_scans"] == [running.scan_id]
    first, second = status["scans"]
    assert first["scan_id"] == running.scan_id
    assert first["scan_name"] == "a"
    assert first["state"] == "running"
    assert first["active"] is True
    assert first["position"] == 0
    assert first["started_at"] is not None
    assert second["scan_id"] == waiting.scan_id
    assert second["state"] == "queued"
    assert second["started_at"] is None
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    status = queue.get_status()
    assert status["state"] == "idle"
    assert status["current_scans"] == []
    assert status["counts"]["completed"] == 2
    assert all(s["progress"] == 1.0 and s["finished_at"] for s in status["scans"])
