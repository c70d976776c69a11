"""Socket.IO: live events to the rooms of each scan, queue and lab, for members only.

A browser connects with its session cookie (refused without a login), then joins rooms
with ``join`` ({"room": "scan"|"queue"|"lab", "id": ...}); each join is checked against
the user's labs like any page, and answered with the room's latest statuses.
``catch_up`` ({"scan_id", "measurement", "from_row"}) returns the stored rows from
``from_row`` on, so a browser that reconnects fills its gap without duplicates.
Every message is checked for its shape (an object, ids that fit the database, whole row
numbers) and answered ``{"ok": false, "error": "bad request: ..."}`` when it is wrong.
Each connection also joins its user's room and is recorded as the user's (in Redis with
several server processes), so that ending the user's sessions or membership closes it
wherever it is held (:func:`pybirch.web.sockets.disconnect_user`).
With ``REDIS_URL`` set, several server processes share the events; ``SOCKETIO_PING_*`` and
``SOCKETIO_ASYNC_MODE`` come from :func:`pybirch.configuration.current_config` too.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import join_room

from pybirch.configuration import current_config
from pybirch.database.errors import DataIntegrityError, NotFoundError
from pybirch.database.models import Role
from pybirch.realtime import EventBus
from pybirch.realtime.events import Event
from pybirch.web.api.serializers import data_document
from pybirch.web.latest_status import LatestStatus, latest_status
from pybirch.web.services import database
from pybirch.web.sockets import (
    BUS_KEY,
    CONNECTIONS_KEY,
    LiveConnections,
    live_connections,
    socketio,
    user_room,
)

log = logging.getLogger(__name__)

LATEST_KEY = "pybirch.latest_status"

#: Most rows one catch-up returns; ask again from the next row for more.
MAX_CATCH_UP_ROWS = 100_000


def init_live(app: Flask) -> EventBus:
    """Attach Socket.IO and an event bus to the app; the bus's events go to the rooms."""
    config = current_config()
    redis_url = config.redis_url
    socketio.init_app(
        app,
        async_mode=config.socketio_async_mode,
        message_queue=redis_url,
        ping_interval=config.socketio_ping_interval,
        ping_timeout=config.socketio_ping_timeout,
        cors_allowed_origins=[],  # same origin only
    )
    latest = app.extensions[LATEST_KEY] = latest_status(redis_url)
    app.extensions[CONNECTIONS_KEY] = live_connections(redis_url)
    bus = EventBus()
    bus.subscribe(latest.note)
    bus.subscribe(_forward)
    app.extensions[BUS_KEY] = bus
    return bus


def rooms_of(event: Event) -> list[str]:
    """The rooms an event goes to: its scan, its queue and its lab."""
    payload = event.payload()
    rooms = []
    if payload.get("scan_id") and event.name in ("scan_status", "data_point"):
        rooms.append(f"scan:{payload['scan_id']}")
    if payload.get("queue_id") is not None:
        rooms.append(f"queue:{payload['queue_id']}")
    if payload.get("lab_id") is not None and event.name != "data_point":
        rooms.append(f"lab:{payload['lab_id']}")
    return rooms


def _forward(event: Event) -> None:
    payload = event.payload()
    for room in rooms_of(event):
        socketio.emit(event.name, payload, to=room)


@socketio.on("connect")
def _connect(_auth: Any = None) -> bool:
    """Only logged-in users (session cookie or bearer token) may connect."""
    if not current_user.is_authenticated:
        log.info("refused a live connection from %s: not logged in", request.remote_addr)
        return False
    # So that ending the user's sessions, or a lab membership, can close this connection.
    join_room(user_room(current_user.id))
    _connections().add(current_user.id, request.sid)
    return True


@socketio.on("disconnect")
def _disconnect(*_reason: Any) -> None:
    """Forget the connection (by its sid: the session may have ended already)."""
    _connections().remove(request.sid)


def _connections() -> LiveConnections:
    return current_app.extensions[CONNECTIONS_KEY]


@socketio.on("join")
def _join(message: Any = None) -> dict[str, Any]:
    """Join a scan's, queue's or lab's room, if the user may see it."""
    if not current_user.is_authenticated:
        return {"ok": False, "error": "not logged in"}
    try:
        kind, key = _room_request(message)
    except BadMessage as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    room = _room_for(kind, key)
    if room is None:
        return {"ok": False, "error": "not found"}
    join_room(room)
    latest: LatestStatus = current_app.extensions[LATEST_KEY]
    return {"ok": True, "room": room, "latest": latest.for_room(room)}


@socketio.on("catch_up")
def _catch_up(message: Any = None) -> dict[str, Any]:
    """The stored rows of a scan's measurement from ``from_row`` on (what was missed)."""
    if not current_user.is_authenticated:
        return {"ok": False, "error": "not logged in"}
    try:
        fields = _fields(message)
        scan_id = _text(fields.get("scan_id"), "scan_id")
        name = _text(fields.get("measurement"), "measurement")
        start = _whole(fields.get("from_row", 0), "from_row", 0, MAX_ROW)
    except BadMessage as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    db = database()
    try:
        scan = db.get_scan(scan_id, with_settings=False)
        if not _member_of(scan.lab_id):
            return {"ok": False, "error": "not found"}
        measurement = db.find_measurement_object(scan.id, name)
        data = db.read_measurement(measurement.id, start, start + MAX_CATCH_UP_ROWS)
    except (NotFoundError, DataIntegrityError):
        return {"ok": False, "error": "not found"}
    return {"ok": True, **data_document(data)}


class BadMessage(ValueError):
    """A socket message without the fields, types or ranges its event expects."""


#: Largest id a table's integer key holds (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
#: Largest row index a measurement can have (a signed 64-bit integer).
MAX_ROW = 2**63 - 1
#: Longest scan id or measurement name accepted (their columns hold 255 characters).
MAX_TEXT = 255

ROOM_KINDS = ("scan", "queue", "lab")


def _fields(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise BadMessage("the message must be an object")
    return message


def _room_request(message: Any) -> tuple[str, str | int]:
    """The room kind and key a ``join`` message asks for."""
    fields = _fields(message)
    kind = fields.get("room")
    if kind not in ROOM_KINDS:
        raise BadMessage(f"room must be one of {', '.join(ROOM_KINDS)}")
    if kind == "scan":
        return kind, _text(fields.get("id"), "id")
    return kind, _whole(fields.get("id"), "id", 1, MAX_ID)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT or "\x00" in value:
        raise BadMessage(f"{name} must be a text of 1 to {MAX_TEXT} characters")
    return value


def _whole(value: Any, name: str, low: int, high: int) -> int:
    # bool is an int in Python, but true is no row number; floats (even 1e309) are refused.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadMessage(f"{name} must be a whole number from {low} to {high}")
    return value


def _room_for(kind: str, key: str | int) -> str | None:
    """The room's name if it exists and the user may see it, else None."""
    db = database()
    try:
        if kind == "scan":
            scan = db.get_scan(str(key), with_settings=False)
            return f"scan:{scan.scan_id}" if _member_of(scan.lab_id) else None
        if kind == "queue":
            queue = db.get_queue(int(key))
            return f"queue:{queue.id}" if _member_of(queue.lab_id) else None
        return f"lab:{key}" if _member_of(int(key)) else None
    except NotFoundError:
        return None


def _member_of(lab_id: int | None) -> bool:
    if lab_id is None:
        return False
    role = database().get_role(lab_id, current_user.id)
    return role is not None and role.allows(Role.VIEWER)
