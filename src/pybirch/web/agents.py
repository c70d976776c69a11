"""Lab computers' agents: their connections, the events they relay, the requests they obey.

An agent connects to the ``/agent`` namespace with its computer token (see
:mod:`pybirch.realtime.agent_protocol`). Its presence, its instruments and its queues are
kept on the computer's record, so every server process (and every page) knows which
computers are online; requests reach an agent through Socket.IO (and Redis, when several
server processes share the events) with :func:`ask_agent`.

The server handles each message in its own thread (so that it can wait for an agent's
answer meanwhile), so an agent's events can finish out of order: a
:class:`ReorderBuffer` per connection passes them on in the order the agent numbered them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room
from socketio.exceptions import TimeoutError as ReplyTimeout

from pybirch.database.errors import ComputerConflictError, NotFoundError
from pybirch.database.models import Computer
from pybirch.errors import PyBirchError
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.realtime.agent_protocol import (
    AGENT_NAMESPACE,
    EVENT,
    MAX_SEQ,
    REGISTER,
    REPLY_TIMEOUT,
    SEQ,
    TOKEN_REFUSED,
)
from pybirch.realtime.events import Event, InstrumentStatus, event_from_message
from pybirch.web.services import database
from pybirch.web.sockets import BUS_KEY, socketio

log = logging.getLogger(__name__)

#: Events that may wait behind a missing one before it is given up on.
REORDER_WINDOW = 1_000
#: Seconds an event may wait behind a missing one before it is given up on.
REORDER_WAIT = 2.0

T = TypeVar("T")


class AgentUnavailable(PyBirchError):
    """The computer's agent is not connected, or did not answer in time."""


class ReorderBuffer(Generic[T]):
    """Releases numbered items (0, 1, 2, ...) in number order, whichever threads accept them.

    An item waits for those numbered before it. A missing number is given up on (logged)
    once more than ``window`` items wait behind it or one has waited ``wait`` seconds, so
    nothing stalls for ever; an item arriving after its number was given up on is dropped
    (logged), since releasing it then would undo the order the browsers rely on.
    """

    def __init__(
        self,
        release: Callable[[T], None],
        context: str,
        window: int = REORDER_WINDOW,
        wait: float = REORDER_WAIT,
    ) -> None:
        self._release = release
        self._context = context
        self._window = window
        self._wait = wait
        self._next = 0
        #: Items waiting for their turn: number -> (monotonic time of arrival, item).
        self._waiting: dict[int, tuple[float, T | None]] = {}
        self._timer: threading.Timer | None = None
        self._closed = False
        # Held while releasing too: two threads releasing at once could swap their items.
        self._lock = threading.Lock()

    def accept(self, number: int, item: T | None) -> None:
        """Release ``item`` in its turn (None: nothing to release, but the number is used)."""
        with self._lock:
            if number < self._next or number in self._waiting:
                log.warning(
                    "%s: event %d arrived after its turn was given up on, or twice; dropped",
                    self._context,
                    number,
                )
                return
            self._waiting[number] = (time.monotonic(), item)
            self._release_ready()
            while self._waiting and (self._closed or len(self._waiting) > self._window):
                closed, window = self._closed, self._window
                self._skip_gap("the connection closed" if closed else f"{window}+ waited behind")
            self._arm_timer()

    def close(self) -> None:
        """Release every waiting item now, in order (the connection is gone)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            while self._waiting:
                self._skip_gap("the connection closed")

    def _release_ready(self) -> None:
        while self._next in self._waiting:
            _, item = self._waiting.pop(self._next)
            self._next += 1  # before releasing: a release that raises leaves the order intact
            if item is not None:
                self._release(item)

    def _skip_gap(self, reason: str) -> None:
        first = min(self._waiting)
        missing = (
            f"event {self._next}"
            if first == self._next + 1
            else f"events {self._next} to {first - 1}"
        )
        log.warning(
            "%s: %s never arrived (%s); going on without, %d waiting",
            self._context,
            missing,
            reason,
            len(self._waiting),
        )
        self._next = first
        self._release_ready()

    def _arm_timer(self) -> None:
        if not self._waiting or self._closed:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None:
            return
        oldest = min(arrived for arrived, _ in self._waiting.values())
        self._timer = threading.Timer(
            max(0.0, oldest + self._wait - time.monotonic()), self._expire
        )
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self._timer = None
            if not self._waiting or self._closed:
                return
            oldest = min(arrived for arrived, _ in self._waiting.values())
            if time.monotonic() - oldest >= self._wait:
                self._skip_gap(f"waited {self._wait:g} s")
            self._arm_timer()


@dataclass
class AgentSession:
    """One connected agent, as this server process knows it."""

    computer_id: int
    lab_id: int
    name: str
    #: Passes the connection's numbered events on to the bus in the agent's order.
    order: ReorderBuffer[Event]
    #: Queue and scan ids already checked to belong to the agent's lab.
    queues: set[int] = field(default_factory=set)
    scans: set[str] = field(default_factory=set)


_sessions: dict[str, AgentSession] = {}
_sessions_lock = threading.Lock()


def online_computers(lab_id: int) -> list[Computer]:
    """The lab's computers whose agent is connected, by name."""
    return [c for c in database().list_computers(lab_id) if (c.extra_data or {}).get("online")]


def agent_instruments(computer: Computer) -> list[InstrumentInfo]:
    """The instruments an agent reported, by name."""
    reported = (computer.extra_data or {}).get("agent", {}).get("instruments", [])
    return sorted((InstrumentInfo.from_dict(each) for each in reported), key=lambda i: i.name)


def agent_queues(computer: Computer) -> list[dict[str, Any]]:
    """The queues an agent runs: {"id", "name", "state"}."""
    return list((computer.extra_data or {}).get("agent", {}).get("queues", []))


def online_computer(lab_id: int | None, computer_id: int) -> Computer | None:
    """The lab's computer with this id, if its agent is connected."""
    try:
        computer = database().get_computer(computer_id)
    except NotFoundError:
        return None
    online = computer.lab_id == lab_id and (computer.extra_data or {}).get("online")
    return computer if online else None


def ask_agent(
    computer: Computer, event: str, payload: dict[str, Any], timeout: float | None = None
) -> dict[str, Any]:
    """Send a request to a computer's agent and return its answer (AgentUnavailable if none)."""
    timeout = REPLY_TIMEOUT if timeout is None else timeout
    sid = (computer.extra_data or {}).get("agent", {}).get("sid")
    if not (computer.extra_data or {}).get("online") or not sid:
        raise AgentUnavailable(f"computer {computer.computer_name!r} is not connected")
    try:
        reply = socketio.call(event, payload, to=sid, namespace=AGENT_NAMESPACE, timeout=timeout)
    except ReplyTimeout:
        raise AgentUnavailable(
            f"computer {computer.computer_name!r} did not answer within {timeout:g} s"
        ) from None
    if not isinstance(reply, dict):
        raise AgentUnavailable(f"computer {computer.computer_name!r} answered {reply!r}")
    return reply


def disconnect_agent(computer: Computer) -> None:
    """Close a computer's agent connection, e.g. once its token was replaced."""
    sid = (computer.extra_data or {}).get("agent", {}).get("sid")
    if sid and (computer.extra_data or {}).get("online"):
        socketio.server.disconnect(sid, namespace=AGENT_NAMESPACE)


@socketio.on("connect", namespace=AGENT_NAMESPACE)
def _connect(auth: Any = None) -> None:
    """An agent proves itself with its computer token."""
    token = auth.get("token") if isinstance(auth, dict) else None
    computer = database().computer_for_token(str(token)) if token else None
    if computer is None or computer.lab_id is None:
        log.warning("refused an agent connection from %s: unknown token", request.remote_addr)
        raise ConnectionRefusedError(TOKEN_REFUSED)
    name, bus = computer.computer_name, current_app.extensions[BUS_KEY]
    order = ReorderBuffer(bus.publish, f"agent of computer {name!r} ({request.sid})")
    with _sessions_lock:
        _sessions[request.sid] = AgentSession(computer.id, computer.lab_id, name, order)
    join_room(f"computer:{computer.id}")
    log.info("agent of computer %r connected from %s", computer.computer_name, request.remote_addr)


@socketio.on("disconnect", namespace=AGENT_NAMESPACE)
def _disconnect(*_reason: Any) -> None:
    with _sessions_lock:
        session = _sessions.pop(request.sid, None)
    if session is None:
        return
    session.order.close()
    db = database()
    try:
        computer = db.get_computer(session.computer_id)
    except NotFoundError:
        return  # removed by an admin meanwhile
    agent = (computer.extra_data or {}).get("agent", {})
    if agent.get("sid") != request.sid:
        return  # it already came back on a new connection
    db.record_computer_presence(computer.id, online=False, info=agent)
    _instruments_offline(session, [each["name"] for each in agent.get("instruments", [])])
    log.info("agent of computer %r disconnected", session.name)


def _instruments_offline(session: AgentSession, names: list[str]) -> None:
    """Record and announce that a gone agent's instruments cannot be reached."""
    # Only the instruments bound to this computer: another computer's (or the server's)
    # instrument of the same name is still there.
    with contextlib.suppress(NotFoundError):  # removed by an admin meanwhile: nothing left
        database().set_computer_instruments_status(
            session.computer_id, "offline", lab_id=session.lab_id
        )
    bus = current_app.extensions[BUS_KEY]
    for name in names:
        bus.publish(InstrumentStatus(name, "offline", session.name, session.lab_id))


@socketio.on(REGISTER, namespace=AGENT_NAMESPACE)
def _register(message: Any) -> dict[str, Any]:
    """Record what the agent offers: its computer, instruments and queues."""
    session = _session()
    if session is None or not isinstance(message, dict):
        return {"ok": False, "error": "not registered"}
    try:
        instruments = [InstrumentInfo.from_dict(each).to_dict() for each in message["instruments"]]
        queues = [
            {"id": int(q["id"]), "name": str(q["name"]), "state": str(q["state"])}
            for q in message.get("queues", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "error": f"bad registration: {exc}"}
    computer = message.get("computer") if isinstance(message.get("computer"), dict) else {}
    info = {**computer, "sid": request.sid, "instruments": instruments, "queues": queues}
    try:
        database().record_computer_presence(session.computer_id, online=True, info=info)
    except ComputerConflictError as exc:  # the machine is another computer of the lab
        log.warning("refused the registration of agent %r: %s", session.name, exc)
        return {"ok": False, "error": str(exc)}
    return {
        "ok": True,
        "computer_id": session.computer_id,
        "lab_id": session.lab_id,
        "name": session.name,
    }


@socketio.on(EVENT, namespace=AGENT_NAMESPACE)
def _relay(message: Any) -> None:
    """Pass a live event on to the browsers, in the agent's order, if it is about its lab."""
    session = _session()
    if session is None or not isinstance(message, dict):
        return
    seq = message.get(SEQ)
    if seq is not None and not _is_seq(seq):
        log.warning("agent %r sent an event numbered %r; dropped", session.name, seq)
        return
    event = _checked_event(session, message)
    if seq is not None:
        # Even a dropped event (None) takes its turn, or those after it would wait for it.
        session.order.accept(seq, event)
    elif event is not None:  # an agent from before events were numbered: as they come
        current_app.extensions[BUS_KEY].publish(event)


def _is_seq(value: Any) -> bool:
    # bool is an int in Python, but true is no event number.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ


def _checked_event(session: AgentSession, message: dict[str, Any]) -> Event | None:
    """The event the message carries, if valid and about the agent's lab (else logged)."""
    payload = message.get("payload")
    if not isinstance(payload, dict):
        log.warning("agent %r sent an event without a payload", session.name)
        return None
    payload = {**payload, "lab_id": session.lab_id}
    try:
        event = event_from_message(str(message.get("name")), payload)
    except ValueError as exc:
        log.warning("agent %r sent a bad event: %s", session.name, exc)
        return None
    if not _belongs_to_lab(session, payload):
        log.warning("agent %r sent an event about another lab: %s", session.name, event.name)
        return None
    return event


def _session() -> AgentSession | None:
    with _sessions_lock:
        return _sessions.get(request.sid)


def _belongs_to_lab(session: AgentSession, payload: dict[str, Any]) -> bool:
    db = database()
    queue_id, scan_id = payload.get("queue_id"), payload.get("scan_id")
    try:
        if queue_id is not None and queue_id not in session.queues:
            if db.get_queue(int(queue_id)).lab_id != session.lab_id:
                return False
            session.queues.add(queue_id)
        if scan_id is not None and scan_id not in session.scans:
            if db.get_scan(str(scan_id), with_settings=False).lab_id != session.lab_id:
                return False
            session.scans.add(scan_id)
    except (NotFoundError, TypeError, ValueError):
        return False
    return True
