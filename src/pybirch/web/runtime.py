"""Queues this server process runs itself (the embedded shape), found by database id.

A queue started elsewhere (on a lab computer's agent) is not here; control requests for
it go to that computer instead.
"""

from __future__ import annotations

import threading

from flask import current_app

from pybirch.database_integration import DatabaseQueue
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.queue import QueueState
from pybirch.realtime import EventBus, follow_queue

EXTENSION_KEY = "pybirch.local_queues"
INSTRUMENTS_KEY = "pybirch.local_instruments"


class LocalQueues:
    """The DatabaseQueues of this process, by their record's id."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._queues: dict[int, DatabaseQueue] = {}
        self._lock = threading.Lock()

    def add(self, queue: DatabaseQueue) -> DatabaseQueue:
        """Run ``queue`` in this process: controlled from the web, followed live.

        Add it before enqueuing scans, so every scan publishes its rows.
        """
        follow_queue(queue, self.bus)
        with self._lock:
            self._queues[queue.db_queue_id] = queue
        return queue

    def get(self, queue_id: int) -> DatabaseQueue | None:
        """The queue with this record id, if this process runs it."""
        with self._lock:
            return self._queues.get(queue_id)

    def in_lab(self, lab_id: int) -> list[DatabaseQueue]:
        """The queues of one lab this process runs."""
        with self._lock:
            return [queue for queue in self._queues.values() if queue.lab_id == lab_id]

    def close(self) -> None:
        """Abort what runs and release every queue's data manager."""
        with self._lock:
            queues = list(self._queues.values())
            self._queues.clear()
        for queue in queues:
            if queue.state is not QueueState.IDLE:
                queue.abort()
                queue.wait_for_completion(timeout=30)
            queue.close()


def local_queues() -> LocalQueues:
    """The running app's local queues."""
    return current_app.extensions[EXTENSION_KEY]


def local_instruments() -> InstrumentSet:
    """The running app's local instruments."""
    return current_app.extensions[INSTRUMENTS_KEY]
