"""The app's Socket.IO server and the key of its event bus, shared by the live modules."""

from __future__ import annotations

from flask_socketio import SocketIO

#: ``app.extensions`` key of the :class:`~pybirch.realtime.EventBus` whose events go out.
BUS_KEY = "pybirch.bus"

socketio = SocketIO()


def user_room(user_id: int) -> str:
    """The room every live connection of one user joins when it connects."""
    return f"user:{user_id}"


def disconnect_user(user_id: int) -> None:
    """Close every live connection of the user held by this server process.

    Called when the user's sessions end or they leave a lab: the browser reconnects with
    whatever session it still has, and joins again only the rooms it may now see. With
    several server processes (``REDIS_URL``), each holds its own connections: those held
    by the other processes stay open, but their event handlers refuse an ended session.
    """
    if socketio.server is None:  # no Socket.IO on this app (nothing can be connected)
        return
    room = user_room(user_id)
    for sid, _ in list(socketio.server.manager.get_participants("/", room)):
        socketio.server.disconnect(sid, namespace="/")
