"""Logging in and out."""

from __future__ import annotations

from math import ceil
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from pybirch.database.models import utcnow
from pybirch.web.auth.passwords import HASH_GATE_KEY, ServerBusyError, verify_password
from pybirch.web.auth.sessions import end_every_session, start_session
from pybirch.web.auth.throttle import THROTTLE_KEY, LoginThrottle, LoginThrottled
from pybirch.web.services import database

blueprint = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    """User name and password."""

    username = StringField("User name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    """The login form; a wrong password or too many attempts say so without detail.

    Every attempt costs one password check, whether the user exists or not; the check
    waits for a slot of the app's :class:`HashGate` (503 when none comes).
    """
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    throttle: LoginThrottle = current_app.extensions[THROTTLE_KEY]
    username = form.username.data.strip()
    try:
        attempt = throttle.reserve(username, request.remote_addr or "unknown")
    except LoginThrottled as exc:
        flash(f"Too many failed attempts. Try again in {ceil(exc.retry_after / 60)} min.", "error")
        headers = {"Retry-After": str(ceil(exc.retry_after))}
        return render_template("login.html", form=form), 429, headers
    user = database().get_user_by_username(username)
    try:
        with current_app.extensions[HASH_GATE_KEY].slot():
            matches = verify_password(
                None if user is None else user.password_hash, form.password.data
            )
    except ServerBusyError as exc:
        attempt.cancel()
        flash("The server is busy. Try again in a moment.", "error")
        return render_template("login.html", form=form), 503, {"Retry-After": str(exc.retry_after)}
    if user is None or not user.is_active or not matches:
        flash("Wrong user name or password.", "error")
        return render_template("login.html", form=form), 401, {}
    attempt.succeeded()
    database().update_user(user.id, last_login_at=utcnow())
    start_session(user)
    return redirect(_safe_next(request.args.get("next")))


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """End the session, and every other session of this user (on any browser)."""
    end_every_session(current_user.id)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Only paths on this site: never redirect to another host after login."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("dashboard.index")
