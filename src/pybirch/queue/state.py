"""The states a queue goes through and the ways it can run its scans."""

from __future__ import annotations

from enum import StrEnum


class QueueState(StrEnum):
    """What the queue as a whole is doing; the values are what the database stores."""

    #: Nothing is running: never started, ran out of scans, or finished stopping.
    IDLE = "idle"
    #: Started: queued scans are started as soon as the scheduling rules allow.
    RUNNING = "running"
    #: Running scans are paused and no new scan starts until :meth:`Queue.resume`.
    PAUSED = "paused"
    #: :meth:`Queue.abort` was called; waiting for the active scans to stop.
    STOPPING = "stopping"


class ExecutionMode(StrEnum):
    """How many scans the queue runs at once."""

    #: One scan at a time, in queue order.
    SERIAL = "serial"
    #: Up to ``max_parallel_scans`` at once, never two sharing an instrument.
    PARALLEL = "parallel"
