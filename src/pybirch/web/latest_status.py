"""The last status of each scan and queue published, for browsers that join their rooms.

A page rendered from the database may be a moment behind a scan that just paused, and an
event sent before the page joined its room never reaches it: ``join`` answers with these.
With ``REDIS_URL`` several server processes keep them in Redis, so a browser joining on one
process learns what another process published.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Protocol

import redis

from pybirch.realtime.events import Event

log = logging.getLogger(__name__)

#: Scans and queues remembered in memory; the oldest are forgotten first.
REMEMBERED = 10_000
#: Seconds Redis keeps a status after its last change.
KEPT_FOR = 7 * 24 * 3600


class LatestStatus(Protocol):
    """Where the newest ``scan_status`` per scan and ``queue_status`` per queue are kept."""

    def note(self, event: Event) -> None:
        """Remember ``event`` if it is a scan's or a queue's status."""

    def for_room(self, room: str) -> list[dict[str, Any]]:
        """The statuses a browser joining ``room`` should apply: [{"name", "payload"}]."""


def latest_status(redis_url: str | None) -> LatestStatus:
    """Kept in Redis when there is one (several server processes), else in this process."""
    return RedisLatestStatus(redis_url) if redis_url else MemoryLatestStatus()


class MemoryLatestStatus:
    """The statuses this process published (thread-safe, bounded)."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._scans: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._queues: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._remembered = remembered
        self._lock = threading.Lock()

    def note(self, event: Event) -> None:
        """Remember ``event`` if it is a scan's or a queue's status."""
        if event.name == "scan_status":
            payload = event.payload()
            self._keep(self._scans, str(payload["scan_id"]), payload)
        elif event.name == "queue_status":
            payload = event.payload()
            self._keep(self._queues, str(payload["queue_id"]), payload)

    def for_room(self, room: str) -> list[dict[str, Any]]:
        """The statuses a browser joining ``room`` should apply: [{"name", "payload"}]."""
        kind, _, key = room.partition(":")
        with self._lock:
            if kind == "scan":
                return _messages("scan_status", [self._scans.get(key)])
            if kind != "queue":
                return []
            scans = [s for s in self._scans.values() if str(s.get("queue_id")) == key]
            return _messages("queue_status", [self._queues.get(key)]) + _messages(
                "scan_status", scans
            )

    def _keep(self, store: OrderedDict, key: str, payload: dict[str, Any]) -> None:
        with self._lock:
            store[key] = payload
            store.move_to_end(key)
            while len(store) > self._remembered:
                store.popitem(last=False)


class RedisLatestStatus:
    """The statuses every server process published, in Redis (kept a week after a change)."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def note(self, event: Event) -> None:
        """Remember ``event`` if it is a scan's or a queue's status."""
        if event.name not in ("scan_status", "queue_status"):
            return  # rows pass by here at up to 20 messages a second per scan
        payload = event.payload()
        try:
            if event.name == "scan_status":
                document = json.dumps(payload)
                pipe = self._redis.pipeline()
                pipe.set(f"pybirch:latest:scan:{payload['scan_id']}", document, ex=KEPT_FOR)
                if payload.get("queue_id") is not None:
                    scans = f"pybirch:latest:queue:{payload['queue_id']}:scans"
                    pipe.hset(scans, payload["scan_id"], document)
                    pipe.expire(scans, KEPT_FOR)
                pipe.execute()
            elif event.name == "queue_status":
                key = f"pybirch:latest:queue:{payload['queue_id']}"
                self._redis.set(key, json.dumps(payload), ex=KEPT_FOR)
        except redis.RedisError as exc:
            log.warning("could not keep the latest %s in Redis: %s", event.name, exc)

    def for_room(self, room: str) -> list[dict[str, Any]]:
        """The statuses a browser joining ``room`` should apply: [{"name", "payload"}]."""
        kind, _, key = room.partition(":")
        try:
            if kind == "scan":
                return _messages("scan_status", [_loads(self._redis.get(f"pybirch:latest:{room}"))])
            if kind != "queue":
                return []
            queue = _loads(self._redis.get(f"pybirch:latest:queue:{key}"))
            scans = self._redis.hvals(f"pybirch:latest:queue:{key}:scans")
        except redis.RedisError as exc:
            log.warning("could not read the latest statuses of %s from Redis: %s", room, exc)
            return []
        return _messages("queue_status", [queue]) + _messages(
            "scan_status", [_loads(each) for each in scans]
        )


def _loads(document: bytes | None) -> dict[str, Any] | None:
    return None if document is None else json.loads(document)


def _messages(name: str, payloads: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [{"name": name, "payload": p} for p in payloads if p is not None]
