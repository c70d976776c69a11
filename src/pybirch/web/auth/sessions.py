"""Login sessions: each records its user's session version, and ends when that is raised.

A user's ``session_version`` is stored in the (signed) session cookie at login. Logging
out or changing the password raises it in the database, so every cookie made before,
on any browser or captured by anyone, stops working at its next request; the user's live
connections are closed too. A session also ends ``SESSION_LIFETIME_HOURS`` after its
last request; no remember-me cookie is ever given (and one would be refused, since it
carries no session version).
"""

from __future__ import annotations

from flask import session
from flask_login import login_user

from pybirch.database.errors import NotFoundError
from pybirch.database.models import User
from pybirch.web.auth.user import WebUser
from pybirch.web.services import database
from pybirch.web.sockets import disconnect_user

#: Key of the user's session version in the session cookie.
SESSION_VERSION_KEY = "session_version"


def start_session(user: User) -> None:
    """Log ``user`` in on this browser, for the configured session lifetime."""
    login_user(WebUser.from_record(user))
    session.permanent = True  # the cookie and its signature expire after the lifetime
    session[SESSION_VERSION_KEY] = user.session_version


def end_every_session(user_id: int) -> None:
    """End every session and live connection of the user (on logout)."""
    database().end_sessions(user_id)
    disconnect_user(user_id)


def set_password(user_id: int, password_hash: str) -> None:
    """Store a new password hash, ending every other session and live connection of the user.

    This browser stays logged in: its session takes the new version.
    """
    version = database().set_password(user_id, password_hash)
    disconnect_user(user_id)
    session[SESSION_VERSION_KEY] = version


def load_user(user_id: str) -> WebUser | None:
    """Flask-Login's user loader: the session's user while active and the session current."""
    try:
        user = database().get_user(int(user_id))
    except (NotFoundError, ValueError):
        return None
    if not user.is_active or session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return WebUser.from_record(user)
