"""Lab computers' agents: their connections, the events they relay, the requests they obey.

An agent connects to the ``/agent`` namespace with its computer token (see
:mod:`pybirch.realtime.agent_protocol`). Its presence, its instruments and its queues are
kept on the computer's record, so every server process (and every page) knows which
computers are online; requests reach an agent through Socket.IO (and Redis, when several
server processes share the events) with :func:`ask_agent`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room
from socketio.exceptions import TimeoutError as ReplyTimeout

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Computer
from pybirch.errors import PyBirchError
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.realtime.agent_protocol import (
    AGENT_NAMESPACE,
    EVENT,
    REGISTER,
    REPLY_TIMEOUT,
    TOKEN_REFUSED,
)
from pybirch.realtime.events import InstrumentStatus, event_from_message
from pybirch.web.services import database
from pybirch.web.sockets import BUS_KEY, socketio

log = logging.getLogger(__name__)


class AgentUnavailable(PyBirchError):
    """The computer's agent is not connected, or did not answer in time."""


@dataclass
class AgentSession:
    """One connected agent, as this server process knows it."""

    computer_id: int
    lab_id: int
    name: str
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


def ask_agent(computer: Computer, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send a request to a computer's agent and return its answer (AgentUnavailable if none)."""
    sid = (computer.extra_data or {}).get("agent", {}).get("sid")
    if not (computer.extra_data or {}).get("online") or not sid:
        raise AgentUnavailable(f"computer {computer.computer_name!r} is not connected")
    try:
        reply = socketio.call(
            event, payload, to=sid, namespace=AGENT_NAMESPACE, timeout=REPLY_TIMEOUT
        )
    except ReplyTimeout:
        raise AgentUnavailable(
            f"computer {computer.computer_name!r} did not answer within {REPLY_TIMEOUT:g} s"
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
    with _sessions_lock:
        _sessions[request.sid] = AgentSession(computer.id, computer.lab_id, computer.computer_name)
    join_room(f"computer:{computer.id}")
    log.info("agent of computer %r connected from %s", computer.computer_name, request.remote_addr)


@socketio.on("disconnect", namespace=AGENT_NAMESPACE)
def _disconnect(*_reason: Any) -> None:
    with _sessions_lock:
        session = _sessions.pop(request.sid, None)
    if session is None:
        return
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
    db, bus = database(), current_app.extensions[BUS_KEY]
    for name in names:
        record = db.get_instrument_by_name(name, session.lab_id)
        if record is not None:
            db.update_instrument_status(record.id, "offline")
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
    database().record_computer_presence(session.computer_id, online=True, info=info)
    return {
        "ok": True,
        "computer_id": session.computer_id,
        "lab_id": session.lab_id,
        "name": session.name,
    }


@socketio.on(EVENT, namespace=AGENT_NAMESPACE)
def _relay(message: Any) -> None:
    """Pass a live event on to the browsers, if it is about the agent's own lab."""
    session = _session()
    if session is None or not isinstance(message, dict):
        return
    payload = message.get("payload")
    if not isinstance(payload, dict):
        log.warning("agent %r sent an event without a payload", session.name)
        return
    payload = {**payload, "lab_id": session.lab_id}
    try:
        event = event_from_message(str(message.get("name")), payload)
    except ValueError as exc:
        log.warning("agent %r sent a bad event: %s", session.name, exc)
        return
    if not _belongs_to_lab(session, payload):
        log.warning("agent %r sent an event about another lab: %s", session.name, event.name)
        return
    current_app.extensions[BUS_KEY].publish(event)


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
