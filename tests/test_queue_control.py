"""Controlling a queue and its scans: pause, resume, abort, failures, waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybirch.queue import ExecutionMode, QueueState, QueueStateError, ScanState
from pybirch.scan import ScanSettings
from queue_lab import PATIENCE, GatedScan, Lab, Meter, Recorder, wait_until_state


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def test_pause_scan_and_resume_scan(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", points=6, gate=gate))
    queue.start()
    gate.wait_reached()
    queue.pause_scan(handle.scan_id)
    queue.pause_scan(handle.scan_id)  # a second request is harmless
    gate.open()
    wait_until_state(handle.scan, ScanState.PAUSED)
    assert handle.state is ScanState.PAUSED
    assert handle.active
    assert 0 < handle.progress < 1
    queue.resume_scan(handle.scan_id)
    assert queue.wait_for_completion(PATIENCE)
    assert handle.state is ScanState.COMPLETED
    assert handle.progress == 1.0


def test_pausing_the_scan_object_itself_goes_through_its_queue(lab: Lab) -> None:
    # The queue brings a scan back to what it wants after every transition; a pause made on
    # the Scan object must become what the queue wants, not be undone a moment later.
    queue = lab.queue()
    gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", points=6, gate=gate))
    queue.start()
    gate.wait_reached()
    handle.scan.pause()
    gate.open()
    wait_until_state(handle.scan, ScanState.PAUSED)
    assert not handle.scan.wait_for_state(ScanState.RUNNING, timeout=0.3)
    handle.scan.resume()
    assert queue.wait_for_completion(PATIENCE)
    assert handle.state is ScanState.COMPLETED


def test_resume_scan_works_while_the_queue_is_paused(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", gate=gate))
    queue.enqueue(lab.scan("b"))
    queue.start()
    gate.wait_reached()
    queue.pause()
    gate.open()
    wait_until_state(handle.scan, ScanState.PAUSED)
    queue.resume_scan(handle.scan_id)
    wait_until_state(handle.scan, ScanState.COMPLETED)
    assert queue.state is QueueState.PAUSED
    assert queue.handles[1].state is ScanState.QUEUED  # the paused queue starts nothing
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)


def test_scan_control_refuses_scans_that_are_not_running(lab: Lab) -> None:
    queue = lab.queue()
    queued = queue.enqueue(lab.scan("a"))
    with pytest.raises(QueueStateError, match="not running"):
        queue.pause_scan(queued.scan_id)
    with pytest.raises(QueueStateError, match="not running"):
        queue.resume_scan(queued.scan_id)
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    with pytest.raises(QueueStateError, match="already ended completed"):
        queue.abort_scan(queued.scan_id)


def test_abort_scan_on_a_queued_scan_never_runs_it(lab: Lab) -> None:
    queue = lab.queue()
    states = Recorder()
    queue.add_state_callback(states)
    first = queue.enqueue(lab.scan("a"))
    skipped = queue.enqueue(lab.scan("b"))
    queue.abort_scan(skipped.scan_id)
    assert skipped.state is ScanState.ABORTED
    assert skipped.finished_at is not None
    assert (skipped.scan_id, ScanState.ABORTED) in states.snapshot()
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert first.state is ScanState.COMPLETED
    assert "b" not in lab.timeline.intervals()


def test_abort_scan_on_a_running_scan_lets_the_queue_go_on(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    first = queue.enqueue(lab.scan("a", points=6, gate=gate))
    second = queue.enqueue(lab.scan("b"))
    queue.start()
    gate.wait_reached()
    queue.abort_scan(first.scan_id)
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert first.state is ScanState.ABORTED
    assert first.progress < 1
    assert second.state is ScanState.COMPLETED
    assert queue.state is QueueState.IDLE


def test_abort_scan_on_a_paused_scan(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", gate=gate))
    queue.start()
    gate.wait_reached()
    queue.pause_scan(handle.scan_id)
    gate.open()
    wait_until_state(handle.scan, ScanState.PAUSED)
    queue.abort_scan(handle.scan_id)
    assert queue.wait_for_completion(PATIENCE)
    assert handle.state is ScanState.ABORTED


@pytest.mark.parametrize("paused_first", [False, True])
def test_queue_abort_stops_active_scans_and_marks_queued_ones_aborted(
    lab: Lab, paused_first: bool
) -> None:
    queue = lab.queue()
    gate = lab.gate()
    queue_states = Recorder()
    queue.add_queue_state_callback(queue_states)
    running = queue.enqueue(lab.scan("a", points=6, gate=gate))
    waiting = [queue.enqueue(lab.scan(name)) for name in ("b", "c")]
    queue.start()
    gate.wait_reached()
    if paused_first:
        queue.pause()
    queue.abort()
    assert queue.state is QueueState.STOPPING
    assert all(h.state is ScanState.ABORTED for h in waiting)  # at once, never started
    queue.abort()  # a second abort is harmless
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert running.state is ScanState.ABORTED
    assert queue.state is QueueState.IDLE
    expected = [QueueState.RUNNING]
    expected += [QueueState.PAUSED] if paused_first else []
    expected += [QueueState.STOPPING, QueueState.IDLE]
    assert [args[0] for args in queue_states.snapshot()] == expected
    assert set(lab.timeline.intervals()) == {"a"}


@pytest.mark.parametrize("whole_queue", [False, True])
def test_abort_between_thread_start_and_running_is_applied(lab: Lab, whole_queue: bool) -> None:
    queue = lab.queue()
    start_gate = lab.gate()
    first = queue.enqueue(lab.scan("first", start_gate=start_gate))
    second = queue.enqueue(lab.scan("second"))
    queue.start()
    start_gate.wait_reached()
    assert first.state is ScanState.QUEUED
    if whole_queue:
        queue.abort()
    else:
        queue.abort_scan(first.scan_id)
    start_gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert first.state is ScanState.ABORTED
    assert first.scan.points_done == 0
    expected = ScanState.ABORTED if whole_queue else ScanState.COMPLETED
    assert second.state is expected


def test_pause_scan_between_thread_start_and_running_is_applied(lab: Lab) -> None:
    queue = lab.queue()
    start_gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", start_gate=start_gate))
    queue.start()
    start_gate.wait_reached()
    queue.pause_scan(handle.scan_id)
    start_gate.open()
    wait_until_state(handle.scan, ScanState.PAUSED)
    queue.resume_scan(handle.scan_id)
    assert queue.wait_for_completion(PATIENCE)
    assert handle.state is ScanState.COMPLETED


def test_queue_abort_in_parallel_mode(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    gate = lab.gate()
    handles = [queue.enqueue(lab.scan(f"p{i}", gate=gate)) for i in range(4)]
    queue.start()
    gate.wait_reached()
    queue.abort()
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert [h.state for h in handles] == [ScanState.ABORTED] * 4
    # The two started scans may be aborted before they enter RUNNING; the others never start.
    assert "p0" in lab.timeline.intervals() or "p1" in lab.timeline.intervals()
    assert set(lab.timeline.intervals()) <= {"p0", "p1"}


def test_a_failing_scan_does_not_stop_the_queue(lab: Lab) -> None:
    queue = lab.queue()
    broken = Meter("broken")
    broken.fail_at = 3
    failing = queue.enqueue(lab.scan("bad", meter=broken))
    after = queue.enqueue(lab.scan("good"))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert failing.state is ScanState.FAILED
    assert isinstance(failing.error, RuntimeError)
    assert failing.error_message == "RuntimeError: broken broke at reading 3"
    assert "broke at reading 3" in (failing.traceback or "")
    assert after.state is ScanState.COMPLETED
    errors = queue.get_logs(level="ERROR")
    assert len(errors) == 1
    assert errors[0].scan_id == failing.scan_id
    assert "broke at reading 3" in errors[0].message
    assert queue.get_status()["counts"] == {
        "queued": 0,
        "running": 0,
        "paused": 0,
        "completed": 1,
        "aborted": 0,
        "failed": 1,
    }


def test_a_failing_scan_in_parallel_mode_frees_its_slot(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    broken = Meter("broken")
    broken.fail_at = 1
    handles = [queue.enqueue(lab.scan("bad", meter=broken))]
    handles += [queue.enqueue(lab.scan(f"ok{i}")) for i in range(3)]
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert [h.state for h in handles] == [ScanState.FAILED] + [ScanState.COMPLETED] * 3


def test_wait_for_completion_times_out(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    queue.enqueue(lab.scan("a", gate=gate))
    assert queue.wait_for_completion(timeout=0) is False  # queued, never started
    queue.start()
    gate.wait_reached()
    assert queue.wait_for_completion(timeout=0.05) is False
    gate.open()
    assert queue.wait_for_completion(timeout=PATIENCE) is True


def test_wait_for_completion_on_an_empty_queue() -> None:
    from pybirch.queue import Queue

    assert Queue("Q").wait_for_completion(timeout=0) is True


def test_queue_control_in_the_wrong_state(lab: Lab) -> None:
    queue = lab.queue()
    with pytest.raises(QueueStateError, match="cannot pause the queue while it is idle"):
        queue.pause()
    with pytest.raises(QueueStateError, match="idle"):
        queue.resume()
    queue.abort()  # nothing runs: nothing to do
    queue.start()  # nothing queued: stays idle
    assert queue.state is QueueState.IDLE
    gate = lab.gate()
    queue.enqueue(lab.scan("a", gate=gate))
    queue.start()
    gate.wait_reached()  # the scan is active, so the queue stays STOPPING after abort()
    queue.start()  # already running: harmless
    queue.pause()
    queue.pause()  # already paused: harmless
    with pytest.raises(QueueStateError, match="paused"):
        queue.start()
    queue.resume()
    queue.resume()  # already running: harmless
    queue.abort()
    with pytest.raises(QueueStateError, match="stopping"):
        queue.pause()
    gate.open()
    assert queue.wait_for_completion(PATIENCE)


def test_queue_paused_when_its_last_scan_ends_stays_paused(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    handle = queue.enqueue(lab.scan("a", gate=gate))
    queue.start()
    gate.wait_reached()
    queue.pause()
    queue.resume_scan(handle.scan_id)  # this scan goes on while the queue stays paused
    gate.open()
    assert queue.wait_for_completion(PATIENCE)  # nothing is left to run
    assert queue.state is QueueState.PAUSED
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)
    assert queue.state is QueueState.IDLE


def test_a_scan_aborted_on_the_scan_object_is_skipped(lab: Lab) -> None:
    queue = lab.queue()
    skipped = queue.enqueue(lab.scan("a"))
    after = queue.enqueue(lab.scan("b"))
    skipped.scan.abort()  # on the scan itself: the queue hears of it
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert skipped.state is ScanState.ABORTED
    assert after.state is ScanState.COMPLETED
    assert set(lab.timeline.intervals()) == {"b"}


def test_a_run_that_raises_is_recorded_as_failed_and_the_queue_goes_on(lab: Lab) -> None:
    class Misbehaving(GatedScan):
        def run(self) -> ScanState:
            raise RuntimeError("run() broke its contract")

    queue = lab.queue()
    broken = queue.enqueue(Misbehaving(ScanSettings("queue-tests", "bad")))
    after = queue.enqueue(lab.scan("good"))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert broken.state is ScanState.FAILED
    assert isinstance(broken.error, RuntimeError)
    assert broken.error_message == "RuntimeError: run() broke its contract"
    assert after.state is ScanState.COMPLETED
    assert [e.scan_id for e in queue.get_logs(level="ERROR")] == [broken.scan_id]


def test_a_scan_queued_again_is_reported_once(lab: Lab) -> None:
    queue = lab.queue()
    states = Recorder()
    queue.add_state_callback(states)
    scan = lab.scan("a")
    first = queue.enqueue(scan)
    queue.dequeue(first.scan_id)
    again = queue.enqueue(scan)
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert states.snapshot() == [
        (again.scan_id, ScanState.RUNNING),
        (again.scan_id, ScanState.COMPLETED),
    ]
