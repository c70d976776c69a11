"""The process tests/test_crash_recovery.py kills: runs one recorded scan and logs every reading.

Usage::

    python crash_child.py DATABASE_URL READINGS_LOG --points N --delay SECONDS --buffer-size N
    python crash_child.py DATABASE_URL SIDE_CHANNEL --zero-cost --points N [--delay SECONDS]

It records a ``DatabaseQueue`` called :data:`QUEUE_ID` in the database, enqueues a 1-D I-V
sweep of ``--points`` points (current source stepping, multimeter reading) and runs it.
Every value the multimeter returns is appended to ``READINGS_LOG`` before the scan engine
sees it, one line per reading: ``point_number value value ...`` with ``repr`` precision,
written by one ``os.write`` on an ``O_APPEND`` descriptor, so the log survives a SIGKILL
and tells the test exactly what the instrument returned.

With ``--zero-cost`` the sweep uses instruments that cost nothing (a source that stores
its position, a meter returning preallocated random readings), so the engine runs as
fast as it can, with the engine's default batches and flush interval. The meter reports
to a :class:`SideChannel`, a memory-mapped file that survives the kill: before returning
reading ``k`` it writes the value and sets the count of calls started to ``k + 1``, so the
test knows that every reading before ``k`` was returned to the engine (the engine asked
for the next one), and what each value was. ``--delay`` (a sleep per reading) slows it.

The spool directory comes from ``PYBIRCH_DATA_DIR``, which the test passes down. The
test imports :func:`build_scan` too, to run the same sweep in its own process.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine_doubles import NullMovement
from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
from pybirch.instruments import Measurement
from pybirch.instruments.simulated import FakeCurrentSource, FakeMultimeter, SimulatedSample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree

#: QID of the queue the child records (the test picks it up again by this name).
QUEUE_ID = "crash-queue"
#: Name of the scan's measurement (the multimeter's name).
MEASUREMENT = "Multimeter"
#: The sweep's currents (A): the commanded position of point ``i`` is ``currents(n)[i]``.
CURRENT_RANGE = (-0.01, 0.01)


def currents(points: int) -> np.ndarray:
    """Positions of the current source, in the order the scan visits them."""
    return np.linspace(*CURRENT_RANGE, points)


def format_reading(point: int, reading: np.ndarray) -> bytes:
    """One log line: the point number and every value, exactly (``repr`` round-trips floats)."""
    values = " ".join(repr(float(value)) for value in np.asarray(reading).ravel())
    return f"{point} {values}\n".encode()


#: Called with (point number, reading) for every reading the multimeter returns.
ReadingRecorder = Callable[[int, np.ndarray], None]


class RecordingMultimeter(FakeMultimeter):
    """A simulated multimeter that hands every reading it returns to ``record``."""

    def __init__(self, record: ReadingRecorder, **options: Any) -> None:
        super().__init__(MEASUREMENT, **options)
        self._record = record
        self._readings = 0

    def _perform_measurement_impl(self) -> np.ndarray:
        reading = super()._perform_measurement_impl()
        self._record(self._readings, reading)
        self._readings += 1
        return reading


def build_scan(record: ReadingRecorder, points: int, delay: float, buffer_size: int) -> Scan:
    """The I-V sweep; batches of exactly ``buffer_size`` points (no time-based flushes)."""
    sample = SimulatedSample()
    source = FakeCurrentSource(sample=sample)
    meter = RecordingMultimeter(record, sample=sample, delay=delay, seed=7)
    tree = ScanTree([MovementItem(source, currents(points), children=[MeasurementItem(meter)])])
    settings = ScanSettings("crash recovery", "I-V sweep", scan_tree=tree)
    return Scan(settings, buffer_size=buffer_size, flush_interval=3600.0)


class SideChannel:
    """A memory-mapped file: calls started (uint64), then one float64 reading per point."""

    def __init__(self, path: str, points: int, create: bool = False) -> None:
        size = 8 * (points + 1)
        fd = os.open(path, os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        self._started = np.frombuffer(self._map, dtype=np.uint64, count=1)
        #: The value of every reading returned so far, by point number.
        self.values = np.frombuffer(self._map, dtype=np.float64, offset=8)

    @property
    def started(self) -> int:
        """Readings asked for so far; all but the last were returned to the engine."""
        return int(self._started[0])

    def note_started(self, calls: int) -> None:
        """Record that ``calls`` readings have been asked for."""
        self._started[0] = calls


class ZeroCostMeter(Measurement):
    """A voltmeter returning preallocated random readings, each logged before it is returned."""

    def __init__(self, side: SideChannel, points: int, delay: float) -> None:
        super().__init__(MEASUREMENT)
        self.data_columns, self.data_units = np.array(["voltage"]), np.array(["V"])
        self._readings = np.random.default_rng(7).standard_normal((points, 1, 1))
        self._side = side
        self._delay = delay
        self._calls = 0

    def perform_measurement(self) -> np.ndarray:
        point = self._calls
        self._calls = point + 1
        self._side.note_started(point + 1)  # so every reading before this one was returned
        if self._delay:
            time.sleep(self._delay)
        reading = self._readings[point]
        self._side.values[point] = reading[0, 0]
        return reading


def build_zero_cost_scan(side: SideChannel, points: int, delay: float) -> Scan:
    """The sweep with zero-cost instruments and the engine's default batching."""
    meter = ZeroCostMeter(side, points, delay)
    tree = ScanTree(
        [
            MovementItem(
                NullMovement("Current Source", "current", "A"),
                currents(points),
                children=[MeasurementItem(meter)],
            )
        ]
    )
    return Scan(ScanSettings("crash recovery", "fast sweep", scan_tree=tree))


def log_to(fd: int) -> ReadingRecorder:
    """A recorder appending each reading to ``fd`` with one ``os.write`` (survives SIGKILL)."""

    def record(point: int, reading: np.ndarray) -> None:
        os.write(fd, format_reading(point, reading))

    return record


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("readings_log")
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--buffer-size", type=int, default=1000)
    parser.add_argument("--zero-cost", action="store_true")
    args = parser.parse_args(argv)

    if args.zero_cost:
        side = SideChannel(args.readings_log, args.points, create=True)
        scan = build_zero_cost_scan(side, args.points, args.delay)
    else:
        log_fd = os.open(args.readings_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        scan = build_scan(log_to(log_fd), args.points, args.delay, args.buffer_size)
    db = DatabaseService(args.database_url, auto_upgrade=True)
    queue = DatabaseQueue(QUEUE_ID, db, operator="crash-test")
    queue.enqueue(scan)
    queue.start()
    queue.wait_for_completion()
    queue.close()
    db.close()
    return 0  # the test kills this process long before it gets here


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
