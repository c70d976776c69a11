"""The process tests/test_crash_recovery.py kills: runs one recorded scan and logs every reading.

Usage::

    python crash_child.py DATABASE_URL READINGS_LOG --points N --delay SECONDS --buffer-size N

It records a ``DatabaseQueue`` called :data:`QUEUE_ID` in the database, enqueues a 1-D I-V
sweep of ``--points`` points (current source stepping, multimeter reading) and runs it.
Every value the multimeter returns is appended to ``READINGS_LOG`` before the scan engine
sees it, one line per reading: ``point_number value value ...`` with ``repr`` precision,
written by one ``os.write`` on an ``O_APPEND`` descriptor, so the log survives a SIGKILL
and tells the test exactly what the instrument returned.

The spool directory comes from ``PYBIRCH_DATA_DIR``, which the test passes down. The
test imports :func:`build_scan` too, to run the same sweep in its own process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
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
    parser.add_argument("--delay", type=float, required=True)
    parser.add_argument("--buffer-size", type=int, required=True)
    args = parser.parse_args(argv)

    log_fd = os.open(args.readings_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    db = DatabaseService(args.database_url, auto_upgrade=True)
    queue = DatabaseQueue(QUEUE_ID, db, operator="crash-test")
    queue.enqueue(build_scan(log_to(log_fd), args.points, args.delay, args.buffer_size))
    queue.start()
    queue.wait_for_completion()
    queue.close()
    db.close()
    return 0  # the test kills this process long before it gets here


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
