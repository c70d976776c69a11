"""Lab computers: admins register them, hand their agents a token (shown once), and name them."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from pybirch.database.errors import DuplicateError, NotFoundError
from pybirch.database.models import Computer, Role
from pybirch.database.services.computers import MAX_COMPUTER_NAME, MAX_LOCATION, MAX_NICKNAME
from pybirch.web.agents import disconnect_agent
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.services import database
from pybirch.web.stations import local_station

blueprint = Blueprint("computers", __name__, url_prefix="/computers")


class ComputerForm(FlaskForm):
    """The name of a new lab computer."""

    name = StringField("Computer name", validators=[DataRequired(), Length(max=MAX_COMPUTER_NAME)])


class ComputerDetailsForm(FlaskForm):
    """What the lab calls a computer and where it stands; empty clears."""

    nickname = StringField("Nickname", validators=[Optional(), Length(max=MAX_NICKNAME)])
    location = StringField("Location", validators=[Optional(), Length(max=MAX_LOCATION)])


@blueprint.route("/")
@login_required
def index() -> str:
    """The lab's computers, online or not; admins can add them and renew their tokens."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    role = require_lab_role(lab.id)
    return render_template(
        "computers.html",
        labs=labs,
        lab=lab,
        role=role,
        server=_this_server(),
        computers=database().list_computers(lab.id),
        can_manage=role.allows(Role.ADMIN),
        form=ComputerForm(),
        limits={"nickname": MAX_NICKNAME, "location": MAX_LOCATION},
    )


@blueprint.route("/", methods=["POST"])
@login_required
def create() -> Response:
    """Register a computer of the ``?lab=`` lab and show its token once."""
    lab_id = request.args.get("lab", type=int)
    require_lab_role(lab_id, Role.ADMIN)
    form = ComputerForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("computers.index", lab=lab_id))
    try:
        computer, token = database().create_computer(
            lab_id, form.name.data, created_by_id=current_user.id
        )
    except (ValueError, DuplicateError) as exc:
        flash(f"Computer name: {exc}", "error")
        return redirect(url_for("computers.index", lab=lab_id))
    _show_token(computer, token)
    return redirect(url_for("computers.index", lab=lab_id))


@blueprint.route("/<int:computer_id>/token", methods=["POST"])
@login_required
def reset_token(computer_id: int) -> Response:
    """Give a computer a new token; the old one stops working."""
    computer = _managed_computer(computer_id)
    _show_token(computer, database().reset_computer_token(computer.id))
    disconnect_agent(computer)  # it must come back with the new token
    return redirect(url_for("computers.index", lab=computer.lab_id))


@blueprint.route("/<int:computer_id>/remove", methods=["POST"])
@login_required
def remove(computer_id: int) -> Response:
    """Forget a computer; its agent can no longer connect."""
    computer = _managed_computer(computer_id)
    database().delete_computer(computer.id)
    disconnect_agent(computer)
    flash(f"{computer.display_name} removed.", "info")
    return redirect(url_for("computers.index", lab=computer.lab_id))


@blueprint.route("/<int:computer_id>/edit", methods=["POST"])
@login_required
def edit(computer_id: int) -> Response:
    """Set a computer's nickname and location (lab admins)."""
    computer = _managed_computer(computer_id)
    back = redirect(url_for("computers.index", lab=computer.lab_id))
    form = ComputerDetailsForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return back
    try:
        # A field the request left out is kept (None); one sent empty is cleared ("").
        changed = database().update_computer(
            computer.id,
            nickname=form.nickname.raw_data[0] if form.nickname.raw_data else None,
            location=form.location.raw_data[0] if form.location.raw_data else None,
            lab_id=computer.lab_id,
        )
    except (ValueError, DuplicateError) as exc:
        flash(f"{computer.display_name}: {exc}", "error")
        return back
    flash(f"{changed.display_name} saved.", "info")
    return back


def _flash_errors(form: FlaskForm) -> None:
    flash(
        "; ".join(f"{form[n].label.text}: {', '.join(e)}" for n, e in form.errors.items()),
        "error",
    )


def _this_server() -> Computer | None:
    """The record of the computer this server runs on, once it registered itself."""
    identity = local_station().identity
    return None if identity is None else database().get_computer(identity.computer_id)


def _managed_computer(computer_id: int) -> Computer:
    """The computer, if the user is an admin of its lab (404 if not a member, 403 if lower)."""
    try:
        computer = database().get_computer(computer_id)
    except NotFoundError:
        abort(404)
    require_lab_role(computer.lab_id, Role.ADMIN)
    return computer


def _show_token(computer: Computer, token: str) -> None:
    server = request.url_root.rstrip("/")
    flash(
        f"Token for {computer.display_name}, shown only this once (it will not be shown "
        f"again; copy it now). On that computer run: "
        f"pybirch agent --server {server} --token {token}",
        "token",
    )
