"""Test support for the queue tests: simulated meters with gates, scans, and a timeline.

Nothing here measures wall-clock time. Scans are held at a reading by a :class:`Gate`
until the test opens it, and every scan state change is appended to one
:class:`Timeline`, whose order is the order in which things happened.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from pybirch.instruments.fake import FakeMeasurementInstrument, FakeMovementInstrument
from pybirch.queue import ExecutionMode, Queue, Sample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanState, ScanTree

#: Longest a test waits for anything before failing instead of hanging.
PATIENCE = 10.0


class Gate:
    """Holds every reading of the meters it is given until :meth:`open` is called."""

    def __init__(self) -> None:
        self._opened = threading.Event()
        #: Set once a reading is waiting at the gate.
        self.reached = threading.Event()

    def open(self) -> None:
        """Let every waiting and future reading through."""
        self._opened.set()

    def pass_through(self) -> None:
        """Called by a meter for each reading."""
        self.reached.set()
        if not self._opened.wait(PATIENCE):
            raise RuntimeError("the test never opened the gate")

    def wait_reached(self) -> None:
        """Block until a reading waits at the gate (fails the test after PATIENCE)."""
        assert self.reached.wait(PATIENCE), "no reading reached the gate"


class Meter(FakeMeasurementInstrument):
    """A simulated meter returning its reading count; can wait at a gate or fail."""

    def __init__(self, name: str, adapter: str = "", delay: float = 0.0) -> None:
        super().__init__(name, delay=delay)
        if adapter:
            self.adapter = adapter
        self.data_columns = np.array(["v"])
        self.data_units = np.array(["V"])
        self.readings = 0
        #: Every reading waits here when set.
        self.gate: Gate | None = None
        #: The reading (1-based) that raises, if any.
        self.fail_at: int | None = None
        #: Waited on by the first reading, to prove scans run side by side.
        self.barrier: threading.Barrier | None = None

    def _perform_measurement_impl(self) -> np.ndarray:
        self.readings += 1
        if self.barrier is not None and self.readings == 1:
            self.barrier.wait(PATIENCE)
        if self.fail_at == self.readings:
            raise RuntimeError(f"{self.name} broke at reading {self.readings}")
        if self.gate is not None:
            self.gate.pass_through()
        self._simulate_delay()
        return np.array([[float(self.readings)]])


class GatedScan(Scan):
    """A scan whose ``run()`` first waits at ``start_gate``: started by the queue, still QUEUED."""

    start_gate: Gate | None = None

    def run(self) -> ScanState:
        """Wait at the start gate, if any, then run."""
        if self.start_gate is not None:
            self.start_gate.pass_through()
        return super().run()


class Timeline:
    """Every state change of the scans it watches, in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, ScanState]] = []

    def watch(self, scan: Scan) -> Scan:
        """Record ``scan``'s state changes; returns it."""
        scan.add_state_listener(self._record)
        return scan

    def _record(self, scan: Scan, _old: ScanState, new: ScanState) -> None:
        with self._lock:
            self.events.append((scan.settings.scan_name, new))

    def intervals(self) -> dict[str, tuple[int, int]]:
        """For each scan that ran: (index of its first RUNNING, index of its end)."""
        with self._lock:
            events = list(self.events)
        starts: dict[str, int] = {}
        ends: dict[str, int] = {}
        for index, (name, state) in enumerate(events):
            if state is ScanState.RUNNING:
                starts.setdefault(name, index)
            elif state.finished:
                ends[name] = index
        return {name: (start, ends.get(name, len(events))) for name, start in starts.items()}

    def start_order(self) -> list[str]:
        """Names of the scans in the order they started."""
        return [name for name, _ in sorted(self.intervals().items(), key=lambda kv: kv[1][0])]

    def max_concurrency(self, names: Iterable[str] | None = None) -> int:
        """The most scans (among ``names``) that were running or paused at the same time."""
        wanted = set(names) if names is not None else None
        changes = []
        for name, (start, end) in self.intervals().items():
            if wanted is None or name in wanted:
                changes += [(start, 1), (end, -1)]
        running = peak = 0
        for _, change in sorted(changes):
            running += change
            peak = max(peak, running)
        return peak

    def overlap(self, a: str, b: str) -> bool:
        """Whether scans ``a`` and ``b`` were active at the same time."""
        spans = self.intervals()
        (a0, a1), (b0, b1) = spans[a], spans[b]
        return a0 < b1 and b0 < a1

    def states(self, name: str) -> list[ScanState]:
        """The states scan ``name`` went through."""
        with self._lock:
            return [state for scan, state in self.events if scan == name]


class Lab:
    """Builds queues, scans and gates for one test, and leaves nothing running after it."""

    def __init__(self) -> None:
        self.timeline = Timeline()
        self._queues: list[Queue] = []
        self._gates: list[Gate] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def queue(
        self,
        mode: ExecutionMode = ExecutionMode.SERIAL,
        max_parallel_scans: int = 1,
        **kwargs: Any,
    ) -> Queue:
        """A new queue, aborted and drained when the test ends."""
        queue = Queue(f"Q{len(self._queues)}", max_parallel_scans, mode, **kwargs)
        self._queues.append(queue)
        return queue

    def gate(self) -> Gate:
        """A new gate, opened when the test ends."""
        gate = Gate()
        self._gates.append(gate)
        return gate

    def scan(
        self,
        name: str,
        points: int = 5,
        meter: Meter | None = None,
        stage: FakeMovementInstrument | None = None,
        gate: Gate | None = None,
        sample: Sample | None = None,
        start_gate: Gate | None = None,
    ) -> Scan:
        """A 1-D scan of ``points`` readings, watched by the timeline."""
        meter = meter or Meter(f"{name}-meter")
        if gate is not None:
            meter.gate = gate
        stage = stage or FakeMovementInstrument(f"{name}-stage")
        tree = ScanTree(
            [
                MovementItem(
                    stage, positions=np.linspace(0, 1, points), children=[MeasurementItem(meter)]
                )
            ]
        )
        settings = ScanSettings("queue-tests", name, scan_type="1D", scan_tree=tree)
        scan = GatedScan(settings, sample=sample)
        scan.start_gate = start_gate
        return self.timeline.watch(scan)

    def close(self) -> None:
        """Open every gate, abort every queue and wait for it to settle."""
        for gate in self._gates:
            gate.open()
        for queue in self._queues:
            queue.abort()  # does nothing to an IDLE queue
            queue.clear()  # a never-started queue would otherwise never complete
            assert queue.wait_for_completion(PATIENCE), f"{queue!r} did not stop"


def wait_until_state(scan: Scan, *states: ScanState) -> None:
    """Block until ``scan`` is in one of ``states`` (fails the test after PATIENCE)."""
    assert scan.wait_for_state(*states, timeout=PATIENCE), (
        f"{scan.settings.scan_name} stayed {scan.state.value}, expected {states}"
    )


class Recorder:
    """Collects callback arguments from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        with self._lock:
            self.calls.append(args)

    def snapshot(self) -> list[tuple[Any, ...]]:
        """A copy of the calls so far."""
        with self._lock:
            return list(self.calls)
