"""The app's Socket.IO server, the key of its event bus, and who holds which connection.

Ending a user's sessions or lab membership must close their live connections, wherever
they are held: :func:`disconnect_user` asks :class:`LiveConnections` for every connection
of the user. With one server process that is the user's room; with several (``REDIS_URL``)
each process records its connections in Redis, and Socket.IO's Redis manager carries the
disconnect to the process that holds the connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from flask import current_app
from flask_socketio import SocketIO

log = logging.getLogger(__name__)

#: ``app.extensions`` key of the :class:`~pybirch.realtime.EventBus` whose events go out.
BUS_KEY = "pybirch.bus"
#: ``app.extensions`` key of the app's :class:`LiveConnections`.
CONNECTIONS_KEY = "pybirch.live_connections"
#: Seconds a connection stays recorded in Redis unless its process renews it: a killed
#: process's connections are forgotten after this.
RECORDED_FOR = 300.0
#: Seconds between renewals of this process's connections (well within RECORDED_FOR).
RENEW_EVERY = RECORDED_FOR / 5

socketio = SocketIO()


def user_room(user_id: int) -> str:
    """The room every live connection of one user joins when it connects."""
    return f"user:{user_id}"


class LiveConnections(Protocol):
    """The live connections (sids of the ``/`` namespace) of each user."""

    def add(self, user_id: int, sid: str) -> None:
        """Record that this process holds connection ``sid`` of the user."""

    def remove(self, sid: str) -> None:
        """Forget connection ``sid`` (closed) of this process."""

    def of(self, user_id: int) -> list[str]:
        """Every live connection of the user, whichever process holds it."""


def live_connections(redis_url: str | None) -> LiveConnections:
    """Recorded in Redis when there is one (several server processes), else this process's."""
    return RedisLiveConnections(redis_url) if redis_url else LocalLiveConnections()


class LocalLiveConnections:
    """The connections this process holds: the user rooms Socket.IO keeps."""

    def add(self, user_id: int, sid: str) -> None:
        """Nothing to record: the connection joined its user's room on connect."""

    def remove(self, sid: str) -> None:
        """Nothing to forget: Socket.IO takes a closed connection out of its rooms."""

    def of(self, user_id: int) -> list[str]:
        """Every connection in the user's room."""
        return _local_sids(user_id)


class RedisLiveConnections:
    """Each user's connections, held by any server process, in a Redis sorted set.

    A member's score is the time it is recorded until: the process that holds it renews
    it every :data:`RENEW_EVERY` seconds, so a killed process's connections lapse, and
    the set itself expires once none of its connections is renewed.
    """

    def __init__(
        self,
        url: str,
        recorded_for: float = RECORDED_FOR,
        renew_every: float = RENEW_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._recorded_for = recorded_for
        self._clock = clock
        #: The connections this process holds, by sid: what it renews and forgets.
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_forever, args=(renew_every,), name="live-connections", daemon=True
        )
        self._renewer.start()

    def add(self, user_id: int, sid: str) -> None:
        """Record that this process holds connection ``sid`` of the user."""
        with self._lock:
            self._held[sid] = user_id
        self._record({sid: user_id})

    def remove(self, sid: str) -> None:
        """Forget connection ``sid`` (closed) of this process."""
        with self._lock:
            user_id = self._held.pop(sid, None)
        if user_id is None:
            return
        try:
            self._redis.zrem(_key(user_id), sid)
        except redis.RedisError as exc:
            # It lapses by itself within RECORDED_FOR; disconnecting a gone sid is harmless.
            log.warning("could not forget live connection %s of user %d: %s", sid, user_id, exc)

    def of(self, user_id: int) -> list[str]:
        """Every live connection of the user, whichever process holds it."""
        key, now = _key(user_id), self._clock()
        try:
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(key, "-inf", now)  # left by killed processes
            pipe.zrange(key, 0, -1)
            _, sids = pipe.execute()
        except redis.RedisError as exc:
            log.warning(
                "could not read the live connections of user %d from Redis (%s): "
                "closing only those of this process",
                user_id,
                exc,
            )
            return _local_sids(user_id)
        return [sid.decode() for sid in sids]

    def renew(self) -> None:
        """Record again every connection this process holds, and drop lapsed ones."""
        with self._lock:
            held = dict(self._held)
        if held:
            self._record(held)

    def close(self) -> None:
        """Stop renewing: this process's connections lapse within ``recorded_for``."""
        self._closed.set()

    def _record(self, connections: dict[str, int]) -> None:
        now = self._clock()
        until = now + self._recorded_for
        by_user: dict[int, dict[str, float]] = {}
        for sid, user_id in connections.items():
            by_user.setdefault(user_id, {})[sid] = until
        try:
            pipe = self._redis.pipeline()
            for user_id, members in by_user.items():
                key = _key(user_id)
                pipe.zremrangebyscore(key, "-inf", now)  # left by killed processes
                pipe.zadd(key, members)
                pipe.expire(key, int(self._recorded_for) + 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning(
                "could not record %d live connections in Redis: another server process "
                "cannot close them until they are (%s)",
                len(connections),
                exc,
            )

    def _renew_forever(self, every: float) -> None:
        while not self._closed.wait(every):
            self.renew()


def _key(user_id: int) -> str:
    return f"pybirch:live:user:{user_id}"


def _local_sids(user_id: int) -> list[str]:
    if socketio.server is None:  # no Socket.IO on this app (nothing can be connected)
        return []
    return [sid for sid, _ in socketio.server.manager.get_participants("/", user_room(user_id))]


def disconnect_user(user_id: int) -> None:
    """Close every live connection of the user, whichever server process holds it.

    Called when the user's sessions end or they leave a lab: the browser reconnects with
    whatever session it still has, and joins again only the rooms it may now see.
    """
    if socketio.server is None:  # no Socket.IO on this app (nothing can be connected)
        return
    connections: LiveConnections = current_app.extensions[CONNECTIONS_KEY]
    for sid in connections.of(user_id):
        # A sid another process holds is disconnected there, through the message queue.
        socketio.server.disconnect(sid, namespace="/")
