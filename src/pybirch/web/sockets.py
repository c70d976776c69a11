"""The app's Socket.IO server and the key of its event bus, shared by the live modules."""

from __future__ import annotations

from flask_socketio import SocketIO

#: ``app.extensions`` key of the :class:`~pybirch.realtime.EventBus` whose events go out.
BUS_KEY = "pybirch.bus"

socketio = SocketIO()
