"""Queue contents: enqueue, dequeue, move, replace, clear, and what each refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybirch.errors import PyBirchError
from pybirch.queue import (
    ExecutionMode,
    Queue,
    QueueError,
    QueueState,
    QueueStateError,
    Sample,
    SampleError,
    ScanHandle,
    ScanNotFoundError,
    ScanState,
)
from queue_lab import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def _names(queue: Queue) -> list[str]:
    return [h.name for h in queue.handles]


def test_enqueue_returns_a_handle_with_a_unique_id(lab: Lab) -> None:
    queue = lab.queue()
    first = queue.enqueue(lab.scan("a"))
    second = queue.enqueue(lab.scan("b"))
    assert isinstance(first, ScanHandle)
    assert len(first.scan_id) == 32
    int(first.scan_id, 16)  # uuid4 hex
    assert first.scan_id != second.scan_id
    assert first.state is ScanState.QUEUED
    assert first.progress == 0.0
    assert first.added_at is not None
    assert first.started_at is None
    assert first.finished_at is None
    assert first.error is None
    assert queue.get_handle(second.scan_id) is second
    assert _names(queue) == ["a", "b"]
    assert len(queue) == 2
    assert queue.state is QueueState.IDLE


def test_enqueue_refuses_the_same_scan_twice(lab: Lab) -> None:
    queue = lab.queue()
    scan = lab.scan("a")
    queue.enqueue(scan)
    with pytest.raises(QueueError, match="already in the queue"):
        queue.enqueue(scan)


def test_enqueue_refuses_a_scan_that_already_ran(lab: Lab) -> None:
    scan = lab.scan("a")
    scan.run()
    with pytest.raises(QueueStateError, match="has not run"):
        lab.queue().enqueue(scan)


def test_enqueue_validates_the_sample(lab: Lab) -> None:
    sample = Sample("S1")
    sample.material = 5  # type: ignore[assignment]
    with pytest.raises(SampleError, match="material"):
        lab.queue().enqueue(lab.scan("a", sample=sample))


def test_dequeue_removes_a_queued_scan(lab: Lab) -> None:
    queue = lab.queue()
    handles = [queue.enqueue(lab.scan(n)) for n in "abc"]
    removed = queue.dequeue(handles[1].scan_id)
    assert removed is handles[1]
    assert _names(queue) == ["a", "c"]
    with pytest.raises(ScanNotFoundError):
        queue.get_handle(handles[1].scan_id)


def test_unknown_ids_raise_scan_not_found(lab: Lab) -> None:
    queue = lab.queue()
    queue.enqueue(lab.scan("a"))
    for call in (
        lambda: queue.dequeue("nope"),
        lambda: queue.move("nope", 0),
        lambda: queue.replace("nope", lab.scan("x")),
        lambda: queue.pause_scan("nope"),
        lambda: queue.resume_scan("nope"),
        lambda: queue.abort_scan("nope"),
    ):
        with pytest.raises(ScanNotFoundError, match="nope") as caught:
            call()
        assert isinstance(caught.value, PyBirchError)
        assert isinstance(caught.value, LookupError)


def test_move_reorders_and_checks_the_index(lab: Lab) -> None:
    queue = lab.queue()
    handles = [queue.enqueue(lab.scan(n)) for n in "abcd"]
    queue.move(handles[3].scan_id, 0)
    assert _names(queue) == ["d", "a", "b", "c"]
    queue.move(handles[3].scan_id, 3)
    assert _names(queue) == ["a", "b", "c", "d"]
    queue.move(handles[0].scan_id, 2)
    assert _names(queue) == ["b", "c", "a", "d"]
    for bad in (4, -1):
        with pytest.raises(QueueError, match="indices 0 to 3"):
            queue.move(handles[0].scan_id, bad)


def test_moved_scans_run_in_the_new_order(lab: Lab) -> None:
    queue = lab.queue()
    handles = [queue.enqueue(lab.scan(n)) for n in "abc"]
    queue.move(handles[2].scan_id, 0)
    queue.start()
    assert queue.wait_for_completion(10)
    assert lab.timeline.start_order() == ["c", "a", "b"]


def test_replace_keeps_id_and_position(lab: Lab) -> None:
    queue = lab.queue()
    handles = [queue.enqueue(lab.scan(n)) for n in "abc"]
    new_scan = lab.scan("b2")
    replaced = queue.replace(handles[1].scan_id, new_scan)
    assert replaced is handles[1]
    assert replaced.scan is new_scan
    assert _names(queue) == ["a", "b2", "c"]
    queue.start()
    assert queue.wait_for_completion(10)
    assert lab.timeline.start_order() == ["a", "b2", "c"]
    assert "b" not in lab.timeline.intervals()


def test_replace_refuses_bad_scans(lab: Lab) -> None:
    queue = lab.queue()
    handle = queue.enqueue(lab.scan("a"))
    other = queue.enqueue(lab.scan("b"))
    with pytest.raises(QueueError, match="already in the queue"):
        queue.replace(handle.scan_id, other.scan)
    finished = lab.scan("done")
    finished.run()
    with pytest.raises(QueueStateError, match="has not run"):
        queue.replace(handle.scan_id, finished)


def test_active_scans_cannot_be_dequeued_moved_or_replaced(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    running = queue.enqueue(lab.scan("a", gate=gate))
    queue.enqueue(lab.scan("b"))
    queue.start()
    gate.wait_reached()
    with pytest.raises(QueueStateError, match="active"):
        queue.dequeue(running.scan_id)
    with pytest.raises(QueueStateError, match="active"):
        queue.move(running.scan_id, 1)
    with pytest.raises(QueueStateError, match="only a queued scan"):
        queue.replace(running.scan_id, lab.scan("x"))
    assert _names(queue) == ["a", "b"]
    gate.open()
    assert queue.wait_for_completion(10)


def test_finished_scans_are_history_that_can_be_removed_but_not_replaced(lab: Lab) -> None:
    queue = lab.queue()
    done = queue.enqueue(lab.scan("a"))
    queue.start()
    assert queue.wait_for_completion(10)
    assert done.state is ScanState.COMPLETED
    with pytest.raises(QueueStateError, match="completed"):
        queue.replace(done.scan_id, lab.scan("x"))
    queue.enqueue(lab.scan("b"))
    queue.move(done.scan_id, 1)
    assert _names(queue) == ["b", "a"]
    assert queue.dequeue(done.scan_id) is done
    assert _names(queue) == ["b"]


def test_clear_removes_everything_but_active_scans(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    finished = queue.enqueue(lab.scan("first"))
    queue.start()
    assert queue.wait_for_completion(10)
    running = queue.enqueue(lab.scan("running", gate=gate))
    waiting = [queue.enqueue(lab.scan(n)) for n in "xy"]
    queue.start()
    gate.wait_reached()
    removed = queue.clear()
    assert {h.scan_id for h in removed} == {finished.scan_id, *(h.scan_id for h in waiting)}
    assert queue.handles == [running]
    gate.open()
    assert queue.wait_for_completion(10)
    assert running.state is ScanState.COMPLETED
    assert all(h.state is ScanState.QUEUED for h in waiting)  # removed, never run
    assert set(lab.timeline.intervals()) == {"first", "running"}


def test_clear_on_an_empty_queue_is_harmless(lab: Lab) -> None:
    assert lab.queue().clear() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"QID": ""}, "queue id"),
        ({"QID": "Q", "max_parallel_scans": 0}, "max_parallel_scans"),
        ({"QID": "Q", "max_parallel_scans": 1.5}, "max_parallel_scans"),
        ({"QID": "Q", "mode": "sideways"}, "execution mode"),
        ({"QID": "Q", "progress_interval": 0}, "progress_interval"),
    ],
)
def test_queue_arguments_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(QueueError, match=message):
        Queue(**kwargs)


def test_queue_accepts_mode_names() -> None:
    queue = Queue("Q", 3, "parallel")
    assert queue.mode is ExecutionMode.PARALLEL
    assert queue.max_parallel_scans == 3
    assert queue.QID == queue.queue_id == "Q"
    queue.mode = ExecutionMode.SERIAL
    assert queue.mode is ExecutionMode.SERIAL
    with pytest.raises(QueueError):
        queue.max_parallel_scans = 0


def test_public_enums() -> None:
    assert [s.value for s in QueueState] == ["idle", "running", "paused", "stopping"]
    assert [m.value for m in ExecutionMode] == ["serial", "parallel"]
    assert ScanState.PAUSED.active
    assert ScanState.ABORTED.finished
