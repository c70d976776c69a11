"""The last status of each scan and queue this process published, for browsers that join.

A page rendered from the database may be a moment behind a scan that just paused, and an
event sent before the page joined its room never reaches it: ``join`` answers with these.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pybirch.realtime.events import Event

#: Scans and queues remembered; the oldest are forgotten first.
REMEMBERED = 10_000


class LatestStatus:
    """The newest ``scan_status`` per scan and ``queue_status`` per queue (thread-safe)."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._scans: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._queues: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._remembered = remembered
        self._lock = threading.Lock()

    def note(self, event: Event) -> None:
        """Remember ``event`` if it is a scan's or a queue's status."""
        if event.name == "scan_status":
            self._keep(self._scans, event.payload()["scan_id"], event.payload())
        elif event.name == "queue_status":
            self._keep(self._queues, event.payload()["queue_id"], event.payload())

    def for_room(self, room: str) -> list[dict[str, Any]]:
        """The statuses a browser joining ``room`` should apply: [{"name", "payload"}]."""
        kind, _, key = room.partition(":")
        with self._lock:
            if kind == "scan" and key in self._scans:
                return [{"name": "scan_status", "payload": self._scans[key]}]
            if kind != "queue":
                return []
            latest = [
                {"name": "scan_status", "payload": status}
                for status in self._scans.values()
                if str(status.get("queue_id")) == key
            ]
            if key.isdigit() and int(key) in self._queues:
                latest.insert(0, {"name": "queue_status", "payload": self._queues[int(key)]})
            return latest

    def _keep(self, store: OrderedDict, key: Any, payload: dict[str, Any]) -> None:
        with self._lock:
            store[key] = payload
            store.move_to_end(key)
            while len(store) > self._remembered:
                store.popitem(last=False)
