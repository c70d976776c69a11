"""The logged-in user's own account: password and personal API tokens."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from pybirch.web.auth.passwords import (
    HASH_GATE_KEY,
    MIN_PASSWORD_LENGTH,
    PasswordPolicyError,
    ServerBusyError,
    hash_password,
    verify_password,
)
from pybirch.web.auth.sessions import set_password
from pybirch.web.services import database

blueprint = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    """The current password and a new one, twice."""

    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
    repeat = PasswordField(
        "New password again", validators=[EqualTo("new", message="the passwords differ")]
    )


class FirstPasswordForm(FlaskForm):
    """A password of the user's own, twice, to replace a one-time password."""

    new = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
    repeat = PasswordField(
        "New password again", validators=[EqualTo("new", message="the passwords differ")]
    )


class TokenForm(FlaskForm):
    """A name for a new token (what uses it)."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


@blueprint.route("/")
@login_required
def index() -> str:
    """Password form, and the user's tokens with a form for a new one."""
    return render_template(
        "account.html",
        password_form=PasswordForm(),
        token_form=TokenForm(),
        tokens=database().list_api_tokens(current_user.id),
    )


@blueprint.route("/password", methods=["POST"])
@login_required
def change_password() -> str | Response | tuple[str, int, dict[str, str]]:
    """Set a new password after checking the current one; other sessions end."""
    form = PasswordForm()
    db = database()
    status, headers = 400, {}
    if form.validate_on_submit():
        user = db.get_user(current_user.id)
        try:
            with current_app.extensions[HASH_GATE_KEY].slot():
                matches = verify_password(user.password_hash, form.current.data)
                new_hash = hash_password(form.new.data) if matches else None
        except PasswordPolicyError as exc:
            form.new.errors.append(str(exc))
        except ServerBusyError as exc:
            flash("The server is busy. Try again in a moment.", "error")
            status, headers = 503, {"Retry-After": str(exc.retry_after)}
        else:
            if new_hash is None:
                form.current.errors.append("this is not your current password")
            else:
                set_password(user.id, new_hash)
                flash("Your password is changed; your other sessions have ended.", "info")
                return redirect(url_for("account.index"))
    page = render_template(
        "account.html",
        password_form=form,
        token_form=TokenForm(),
        tokens=db.list_api_tokens(current_user.id),
    )
    return page, status, headers


@blueprint.route("/new-password", methods=["GET", "POST"])
@login_required
def first_password() -> str | Response | tuple[str, int, dict[str, str]]:
    """Replace a one-time password (asked for at login until done); others end their sessions.

    The current password is not asked again: the user has just logged in with it, and
    only this form is open to them until it is replaced.
    """
    if not current_user.must_change_password:
        return redirect(url_for("account.index"))
    form = FirstPasswordForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            with current_app.extensions[HASH_GATE_KEY].slot():
                new_hash = hash_password(form.new.data)
        except PasswordPolicyError as exc:
            form.new.errors.append(str(exc))
            status = 400
        except ServerBusyError as exc:
            flash("The server is busy. Try again in a moment.", "error")
            status, headers = 503, {"Retry-After": str(exc.retry_after)}
        else:
            set_password(current_user.id, new_hash)
            flash("Your password is set. Welcome to PyBirch.", "info")
            return redirect(url_for("dashboard.index"))
    elif form.is_submitted():
        status = 400
    page = render_template("password_change.html", form=form, min_length=MIN_PASSWORD_LENGTH)
    return page, status, headers


@blueprint.route("/tokens", methods=["POST"])
@login_required
def create_token() -> Response:
    """Make a personal token; it is shown once."""
    form = TokenForm()
    if form.validate_on_submit():
        _, token = database().create_api_token(current_user.id, form.name.data.strip())
        flash(f"New token (shown once, copy it now): {token}", "token")
    else:
        flash("A token needs a name.", "error")
    return redirect(url_for("account.index"))


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of the user's tokens."""
    if database().revoke_api_token(token_id, current_user.id):
        flash("Token revoked.", "info")
    else:
        flash("No such token of yours, or revoked already.", "error")
    return redirect(url_for("account.index"))
