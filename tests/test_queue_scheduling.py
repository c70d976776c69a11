"""Scheduling guarantees: serial order, serial across pause, parallel limit, shared instruments.

Overlaps are judged from the order of the scans' state changes (see ``Timeline``), never
from clocks.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator

import pytest

from pybirch.instruments.fake import FakeMovementInstrument
from pybirch.queue import ExecutionMode, QueueState, ScanState
from queue_lab import PATIENCE, Lab, Meter, wait_until_state


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def _assert_disjoint_in_order(lab: Lab, names: list[str]) -> None:
    spans = lab.timeline.intervals()
    assert sorted(spans) == sorted(names)
    ordered = [spans[name] for name in names]
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert end < start, f"scans overlap: {lab.timeline.events}"


def test_serial_runs_one_scan_at_a_time_in_queue_order(lab: Lab) -> None:
    queue = lab.queue()
    names = [f"s{i}" for i in range(8)]
    handles = [queue.enqueue(lab.scan(name, points=4)) for name in names]
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    _assert_disjoint_in_order(lab, names)
    assert lab.timeline.max_concurrency() == 1
    assert all(h.state is ScanState.COMPLETED for h in handles)
    assert all(h.started_at <= h.finished_at for h in handles)
    assert queue.state is QueueState.IDLE


def test_serial_ignores_max_parallel_scans(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.SERIAL, max_parallel_scans=4)
    names = [f"s{i}" for i in range(5)]
    for name in names:
        queue.enqueue(lab.scan(name, points=3))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    _assert_disjoint_in_order(lab, names)


def test_serial_never_starts_the_next_scan_beside_a_paused_one(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    first = queue.enqueue(lab.scan("first", points=6, gate=gate))
    others = [queue.enqueue(lab.scan(name)) for name in ("second", "third")]
    queue.start()
    gate.wait_reached()
    for _ in range(3):  # pause and resume several times while the first scan is held
        queue.pause()
        assert queue.state is QueueState.PAUSED
        queue.resume()
    queue.pause()
    gate.open()
    wait_until_state(first.scan, ScanState.PAUSED)
    status = queue.get_status()
    assert status["current_scans"] == [first.scan_id]
    assert all(h.state is ScanState.QUEUED and not h.active for h in others)
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)
    _assert_disjoint_in_order(lab, ["first", "second", "third"])
    assert lab.timeline.states("first") == [
        ScanState.RUNNING,
        ScanState.PAUSED,
        ScanState.RUNNING,
        ScanState.COMPLETED,
    ]


def test_serial_waits_for_a_scan_paused_on_its_own(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    first = queue.enqueue(lab.scan("first", gate=gate))
    second = queue.enqueue(lab.scan("second"))
    queue.start()
    gate.wait_reached()
    queue.pause_scan(first.scan_id)
    gate.open()
    wait_until_state(first.scan, ScanState.PAUSED)
    assert queue.state is QueueState.RUNNING
    assert second.state is ScanState.QUEUED
    # A queue pause and resume also resumes a scan paused on its own.
    queue.pause()
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)
    _assert_disjoint_in_order(lab, ["first", "second"])


def test_pause_before_the_scan_has_started_still_pauses_it(lab: Lab) -> None:
    # The queue is paused right after start(), racing the scan's thread into RUNNING;
    # wherever the pause lands, the scan must end up paused and the next one wait.
    for attempt in range(20):
        queue = lab.queue()
        gate = lab.gate()
        handle = queue.enqueue(lab.scan(f"race{attempt}", points=3, gate=gate))
        follower = queue.enqueue(lab.scan(f"follower{attempt}", points=2))
        queue.start()
        queue.pause()
        gate.open()
        if handle.active:  # its thread was started before the pause: it must pause
            wait_until_state(handle.scan, ScanState.PAUSED)
        else:  # the pause came first: nothing was started
            assert handle.state is ScanState.QUEUED
        assert follower.state is ScanState.QUEUED
        queue.resume()
        assert queue.wait_for_completion(PATIENCE)
        assert handle.state is ScanState.COMPLETED
        assert follower.state is ScanState.COMPLETED
    assert lab.timeline.max_concurrency() == 1


def test_pause_between_thread_start_and_running_is_applied(lab: Lab) -> None:
    queue = lab.queue()
    start_gate = lab.gate()
    first = queue.enqueue(lab.scan("first", start_gate=start_gate))
    second = queue.enqueue(lab.scan("second"))
    queue.start()
    start_gate.wait_reached()  # the scan's thread runs, the scan itself is still QUEUED
    assert first.active
    assert first.state is ScanState.QUEUED
    queue.pause()
    start_gate.open()
    wait_until_state(first.scan, ScanState.PAUSED)
    assert second.state is ScanState.QUEUED
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)
    _assert_disjoint_in_order(lab, ["first", "second"])


def test_parallel_runs_up_to_the_limit_side_by_side(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    barrier = threading.Barrier(2)
    names = [f"p{i}" for i in range(6)]
    for name in names:
        meter = Meter(f"{name}-meter", delay=0.001)
        meter.barrier = barrier  # two scans must be reading at once, or the test fails
        queue.enqueue(lab.scan(name, points=4, meter=meter))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert queue.get_status()["counts"]["completed"] == 6
    assert lab.timeline.max_concurrency() == 2


def test_parallel_limit_holds_while_paused(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    gate = lab.gate()
    held = [queue.enqueue(lab.scan(f"held{i}", gate=gate)) for i in range(2)]
    waiting = queue.enqueue(lab.scan("waiting"))
    queue.start()
    gate.wait_reached()
    queue.pause()
    gate.open()
    for handle in held:
        wait_until_state(handle.scan, ScanState.PAUSED)
    assert waiting.state is ScanState.QUEUED
    queue.resume()
    assert queue.wait_for_completion(PATIENCE)
    assert lab.timeline.max_concurrency() == 2
    spans = lab.timeline.intervals()
    first_free_slot = min(spans["held0"][1], spans["held1"][1])
    assert spans["waiting"][0] > first_free_slot


def test_parallel_never_overlaps_scans_sharing_an_instrument(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=3)
    shared = Meter("shared-meter", delay=0.001)
    queue.enqueue(lab.scan("a", meter=shared))
    queue.enqueue(lab.scan("b", meter=shared))
    queue.enqueue(lab.scan("c"))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert not lab.timeline.overlap("a", "b")
    assert lab.timeline.start_order().index("a") < lab.timeline.start_order().index("b")


def test_instruments_on_the_same_adapter_conflict(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    gate = lab.gate()
    first = queue.enqueue(lab.scan("a", meter=Meter("m1", adapter="GPIB0::5::INSTR"), gate=gate))
    second = queue.enqueue(lab.scan("b", meter=Meter("m2", adapter="GPIB0::5::INSTR")))
    assert first.scan.resource_keys() & second.scan.resource_keys()
    queue.start()
    gate.wait_reached()
    assert second.state is ScanState.QUEUED
    assert queue.get_status()["current_scans"] == [first.scan_id]
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert not lab.timeline.overlap("a", "b")


def test_a_free_scan_starts_ahead_of_one_waiting_for_a_busy_instrument(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=3)
    gate = lab.gate()
    stage = FakeMovementInstrument("shared-stage")
    busy = queue.enqueue(lab.scan("busy", stage=stage, gate=gate))
    blocked = queue.enqueue(lab.scan("blocked", stage=stage))
    later_same = queue.enqueue(lab.scan("later-same", stage=stage))
    free = queue.enqueue(lab.scan("free"))
    queue.start()
    gate.wait_reached()
    wait_until_state(free.scan, ScanState.COMPLETED)
    assert busy.active
    assert blocked.state is ScanState.QUEUED
    assert later_same.state is ScanState.QUEUED
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    # Scans sharing the stage ran one after another, in queue order.
    spans = [lab.timeline.intervals()[n] for n in ("busy", "blocked", "later-same")]
    assert spans[0][1] < spans[1][0]
    assert spans[1][1] < spans[2][0]


def test_a_waiting_scan_keeps_its_instruments_from_later_scans(lab: Lab) -> None:
    # "blocked" needs the busy meter and a stage; "later" only needs that stage, which is
    # free, but must not take it ahead of "blocked", which was queued first.
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=3)
    gate = lab.gate()
    meter = Meter("shared-meter")
    stage = FakeMovementInstrument("shared-stage")
    queue.enqueue(lab.scan("busy", meter=meter, gate=gate))
    blocked = queue.enqueue(lab.scan("blocked", meter=meter, stage=stage))
    later = queue.enqueue(lab.scan("later", stage=stage))
    free = queue.enqueue(lab.scan("free"))
    queue.start()
    gate.wait_reached()
    wait_until_state(free.scan, ScanState.COMPLETED)
    assert blocked.state is ScanState.QUEUED
    assert later.state is ScanState.QUEUED
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert lab.timeline.start_order().index("blocked") < lab.timeline.start_order().index("later")
    assert not lab.timeline.overlap("blocked", "later")


@pytest.mark.parametrize("seed", range(3))
def test_parallel_rules_hold_for_random_queues(lab: Lab, seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.randint(2, 3)
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=limit)
    meters = [Meter(f"m{i}") for i in range(3)]
    users: dict[str, set[int]] = {}
    for i in range(10):
        name = f"r{i}"
        if rng.random() < 0.6:
            chosen = rng.randrange(len(meters))
            users[name] = {chosen}
            queue.enqueue(lab.scan(name, points=rng.randint(2, 6), meter=meters[chosen]))
        else:
            users[name] = set()
            queue.enqueue(lab.scan(name, points=rng.randint(2, 6)))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert queue.get_status()["counts"]["completed"] == 10
    assert lab.timeline.max_concurrency() <= limit
    for a in users:
        for b in users:
            if a < b and users[a] & users[b]:
                assert not lab.timeline.overlap(a, b), f"{a} and {b} share a meter"


def test_scans_queued_while_running_are_started(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    queue.enqueue(lab.scan("first", gate=gate))
    queue.start()
    gate.wait_reached()
    late = queue.enqueue(lab.scan("late"))
    gate.open()
    assert queue.wait_for_completion(PATIENCE)
    assert late.state is ScanState.COMPLETED
    _assert_disjoint_in_order(lab, ["first", "late"])


def test_an_idle_queue_waits_for_start_and_can_run_again(lab: Lab) -> None:
    queue = lab.queue()
    queue.enqueue(lab.scan("first"))
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert queue.state is QueueState.IDLE
    second = queue.enqueue(lab.scan("second"))
    assert not queue.wait_for_completion(timeout=0.05)
    assert second.state is ScanState.QUEUED
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert second.state is ScanState.COMPLETED


def test_mode_can_change_between_runs(lab: Lab) -> None:
    queue = lab.queue(ExecutionMode.SERIAL, max_parallel_scans=2)
    barrier = threading.Barrier(2)
    for name in ("x", "y"):
        meter = Meter(f"{name}-meter")
        meter.barrier = barrier
        queue.enqueue(lab.scan(name, meter=meter))
    queue.mode = ExecutionMode.PARALLEL
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    assert lab.timeline.overlap("x", "y")
