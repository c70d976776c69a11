"""The agent's line to the server: one Socket.IO connection that comes back by itself.

Events are sent in order, numbered from 0 on each connection (``seq``), so that the
server, which handles each message in its own thread, passes them on in that order. While
the server is away they wait in a bounded buffer and go out, oldest first, once the
connection is back and the agent has registered again; rows that did not fit are in the
database, where a browser fetches them by row index.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import socketio

from pybirch.realtime.agent_protocol import (
    AGENT_NAMESPACE,
    EVENT,
    SEQ,
    TOKEN_REFUSED,
    event_message,
)
from pybirch.realtime.event_size import in_pieces
from pybirch.realtime.events import Event

log = logging.getLogger(__name__)

#: Events kept while the server is away (at 20 data messages/s, about 40 minutes of one scan).
BUFFERED_EVENTS = 50_000
#: Seconds between attempts to reach a server that is not there, growing to the last.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)

Handler = Callable[[Any], Any]


class Uplink:
    """A Socket.IO client of the server's ``/agent`` namespace, authenticated by token."""

    def __init__(
        self,
        server_url: str,
        token: str,
        on_connected: Callable[[], None],
        handlers: dict[str, Handler],
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._token = token
        self._on_connected = on_connected
        self._client = socketio.Client(reconnection=True, reconnection_delay_max=5)
        self._buffer: deque[dict[str, Any]] = deque(maxlen=BUFFERED_EVENTS)
        self._dropped = 0
        self._live = False
        #: Number of the next event sent on this connection (the server orders by it).
        self._seq = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.connected = threading.Event()
        #: Set when the server refused the token: retrying would not help.
        self.refused = threading.Event()
        for name, handler in handlers.items():
            self._client.on(name, handler, namespace=AGENT_NAMESPACE)
        self._client.on("connect", self._connected, namespace=AGENT_NAMESPACE)
        self._client.on("disconnect", self._disconnected, namespace=AGENT_NAMESPACE)
        self._client.on("connect_error", self._refused, namespace=AGENT_NAMESPACE)

    def start(self) -> None:
        """Connect in the background, retrying until the server answers."""
        threading.Thread(target=self._first_connection, name="agent-uplink", daemon=True).start()

    def send(self, event: Event) -> None:
        """Send a live event now, or keep it for when the server is back."""
        for piece in in_pieces(event):  # a full-speed scan's rows fit no single message
            self._send_one(event_message(piece))

    def _send_one(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._live and self._emit_event(message):
                return
            if len(self._buffer) == self._buffer.maxlen:
                self._dropped += 1
            self._buffer.append(message)

    def request(self, name: str, payload: dict[str, Any], timeout: float = 10.0) -> Any:
        """Send a message and wait for the server's answer."""
        return self._client.call(name, payload, namespace=AGENT_NAMESPACE, timeout=timeout)

    def notify(self, name: str, payload: dict[str, Any]) -> None:
        """Send a message that needs no answer (dropped if the server is away)."""
        if self._live:
            self._emit(name, payload)

    def close(self) -> None:
        """Stop reconnecting and disconnect (events still buffered are dropped)."""
        self._stopping.set()
        self._client.disconnect()

    def _first_connection(self) -> None:
        attempt = 0
        while not self._stopping.is_set() and not self.refused.is_set():
            try:
                self._client.connect(
                    self.server_url,
                    namespaces=[AGENT_NAMESPACE],
                    auth={"token": self._token},
                    transports=["websocket"],
                    wait_timeout=10,
                )
                return  # from now on python-socketio reconnects by itself
            except socketio.exceptions.ConnectionError as exc:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.warning(
                    "cannot reach %s (%s); trying again in %g s", self.server_url, exc, delay
                )
                attempt += 1
                self._stopping.wait(delay)

    def _connected(self) -> None:
        # Registration waits for the server's answer: not in the thread that reads it.
        threading.Thread(target=self._go_live, name="agent-register", daemon=True).start()

    def _go_live(self) -> None:
        for attempt in itertools.count():
            try:
                self._on_connected()
                break
            except Exception:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.exception("registering with %s failed; again in %g s", self.server_url, delay)
                if self._stopping.wait(delay) or not self._client.connected:
                    return  # stopping, or the connection dropped: reconnecting registers anew
        with self._lock:
            self._seq = 0  # a new connection is a new sequence on the server
            self._send_buffered()
            self._live = True
        self.connected.set()
        log.info("connected to %s", self.server_url)

    def _send_buffered(self) -> None:
        if self._dropped:
            log.warning(
                "the server was away long enough that %d live events were dropped; "
                "their rows are in the database",
                self._dropped,
            )
            self._dropped = 0
        while self._buffer:
            if not self._emit_event(self._buffer[0]):
                return
            self._buffer.popleft()

    def _disconnected(self, *_reason: Any) -> None:
        with self._lock:
            self._live = False
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("lost the connection to %s; measuring on, reconnecting", self.server_url)

    def _refused(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else str(data)
        if message == TOKEN_REFUSED:
            log.error("%s does not know this computer's token", self.server_url)
            self.refused.set()
            self._stopping.set()
            self._client.disconnect()
        else:
            log.info("cannot reach %s yet (%s)", self.server_url, message)

    def _emit_event(self, message: dict[str, Any]) -> bool:
        # Called with the lock held: numbers go out in the order they are given.
        if not self._emit(EVENT, {**message, SEQ: self._seq}):
            return False
        self._seq += 1
        return True

    def _emit(self, name: str, payload: dict[str, Any]) -> bool:
        try:
            self._client.emit(name, payload, namespace=AGENT_NAMESPACE)
        except socketio.exceptions.SocketIOError as exc:
            log.info("could not send %s now (%s); keeping it", name, exc)
            return False
        return True
