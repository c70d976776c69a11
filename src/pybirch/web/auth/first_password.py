"""A one-time password (a new member's, a reset one) is replaced before anything else.

While the logged-in user's ``must_change_password`` is set, every page redirects to the
form that sets a password of their own, and the API answers 403 to their browser
session. Requests with an API token are not affected: a token is made by its owner,
after the first login.
"""

from __future__ import annotations

from flask import Response, g, jsonify, redirect, request, url_for
from flask_login import current_user

from pybirch.web.api.routes import TOKEN_AUTHENTICATED

#: Endpoints open while the password waits to be changed: the form itself, logging out, files.
OPEN_ENDPOINTS = frozenset({"account.first_password", "auth.logout", "auth.login", "static"})


def require_password_change() -> Response | tuple[Response, int] | None:
    """A ``before_request`` hook: send a user with a one-time password to the change form."""
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if g.get(TOKEN_AUTHENTICATED) or request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.path.startswith("/api/"):
        message = "choose a password of your own first (your one-time password expires)"
        return jsonify(error={"code": 403, "message": message}), 403
    return redirect(url_for("account.first_password"))
