"""A computer's instruments: those bound to it, and those a VISA scan finds, bound in a click.

``Find instruments`` asks the computer's station (this server's own, or a lab computer's
agent) to list its VISA resources and ask each ``*IDN?``; every answer matched to a driver
is offered with a prefilled name, and ``Bind`` records the instrument in the lab, binds it
to the computer with its address, and has the station load it at once, so it is in the
scan builder on the next page.

Each bound instrument says which driver the computer last loaded for it (a stored
definition's version, a lab driver file, or an installed class); a lab admin may have it
run an approved stored definition instead.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm

from pybirch.database.errors import DatabaseError, NotFoundError
from pybirch.database.models import Computer, Role
from pybirch.database.models.instruments import INSTRUMENT_TYPES
from pybirch.errors import PyBirchError
from pybirch.station import FoundInstruments, StationInterface
from pybirch.web.agents import online_computer
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.services import database
from pybirch.web.stations import RemoteStation, local_station

blueprint = Blueprint("computer_instruments", __name__, url_prefix="/computers")

#: Longest instrument name accepted when binding.
MAX_NAME = 255


@blueprint.route("/<int:computer_id>/instruments")
@login_required
def index(computer_id: int) -> str:
    """The instruments bound to a computer, for one lab."""
    computer, lab_id, role = _computer_in_lab(computer_id, Role.VIEWER)
    return _render(computer, lab_id, role, found=None)


@blueprint.route("/<int:computer_id>/instruments/find", methods=["POST"])
@login_required
def find(computer_id: int) -> str | Response:
    """Scan the computer's VISA resources and offer what answers."""
    computer, lab_id, role = _computer_in_lab(computer_id, Role.MEMBER)
    station = _station(computer)
    if station is None:
        flash(f"{computer.computer_name} is not connected: start its agent first.", "error")
        return redirect(url_for(".index", computer_id=computer.id, lab=lab_id))
    try:
        found = station.find_instruments()
    except PyBirchError as exc:
        flash(f"{computer.computer_name} could not scan its instruments: {exc}", "error")
        return redirect(url_for(".index", computer_id=computer.id, lab=lab_id))
    return _render(computer, lab_id, role, found)


@blueprint.route("/<int:computer_id>/instruments/bind", methods=["POST"])
@login_required
def bind(computer_id: int) -> Response:
    """Record a found instrument in the lab, bind it to the computer, and load it there."""
    computer, lab_id, _ = _computer_in_lab(computer_id, Role.ADMIN)
    name = (request.form.get("name") or "").strip()
    resource = (request.form.get("resource") or "").strip()
    driver = (request.form.get("driver") or "").strip()
    kind = request.form.get("kind")
    back = redirect(url_for(".index", computer_id=computer.id, lab=lab_id))
    problem = _bind_problem(name, resource, driver, kind)
    if problem:
        flash(problem, "error")
        return back
    db = database()
    try:
        described = {
            "name": name,
            "instrument_type": kind,
            "pybirch_class": driver,
            "adapter": resource,
            "last_settings": {},
        }
        record = db.register_instrument_on_computer(described, lab_id, computer.id)
        db.bind_instrument_to_computer(record.id, computer_id=computer.id, adapter=resource)
    except (DatabaseError, ValueError) as exc:
        flash(f"Could not bind {name}: {exc}", "error")
        return back
    _load(computer, name)
    return back


@blueprint.route("/<int:computer_id>/instruments/<int:instrument_id>/driver", methods=["POST"])
@login_required
def choose_driver(computer_id: int, instrument_id: int) -> Response:
    """Run a bound instrument with an approved stored definition, or its installed driver."""
    computer, lab_id, _ = _computer_in_lab(computer_id, Role.ADMIN)
    back = redirect(url_for(".index", computer_id=computer.id, lab=lab_id))
    db = database()
    bound = {b["instrument"]["id"]: b for b in db.get_computer_bindings(computer_id=computer.id)}
    if instrument_id not in bound or bound[instrument_id]["instrument"]["lab_id"] != lab_id:
        abort(404)
    chosen = (request.form.get("definition_id") or "").strip()
    if chosen and not chosen.isdigit():
        flash("Choose a driver from the list.", "error")
        return back
    name = bound[instrument_id]["instrument"]["name"]
    if chosen and _is_this_server(computer):
        flash(
            "Drivers stored in the database run on lab computers (pybirch agent), never inside "
            "the web server: bind the instrument to a lab computer to run one.",
            "error",
        )
        return back
    try:
        db.set_instrument_definition(instrument_id, int(chosen) if chosen else None, lab_id=lab_id)
    except NotFoundError:
        flash("That driver is not one this lab sees.", "error")
        return back
    except ValueError as exc:
        flash(str(exc), "error")
        return back
    _load(computer, name)
    return back


def _load(computer: Computer, name: str) -> None:
    """Have the computer's station load what was just bound, and say how it went."""
    station = _station(computer)
    if station is None:
        flash(
            f"{name} is bound to {computer.computer_name}; it loads when its agent starts.", "info"
        )
        return
    try:
        summary = station.load_bound()
    except PyBirchError as exc:
        flash(f"{name} is bound, but {computer.computer_name} could not load it: {exc}", "error")
        return
    if name in summary.failed:
        flash(f"{name} is bound, but did not connect: {summary.failed[name]}", "error")
    else:
        flash(f"{name} is bound to {computer.computer_name} and ready in the scan builder.", "info")


def _bind_problem(name: str, resource: str, driver: str, kind: str | None) -> str | None:
    if not name:
        return "Give the instrument a name."
    if len(name) > MAX_NAME:
        return f"An instrument name has at most {MAX_NAME} characters."
    if not resource or not driver:
        return "Choose a found instrument to bind."
    if kind not in INSTRUMENT_TYPES:
        return "The driver's kind is unknown; scan the instruments again."
    return None


def _computer_in_lab(computer_id: int, needed: Role) -> tuple[Computer, int, Role]:
    """The computer, the lab whose instruments are shown, and the user's role there.

    A lab computer belongs to one lab (404 to others); this server's own computer serves
    every lab, and ``?lab=`` picks which of the user's labs.
    """
    try:
        computer = database().get_computer(computer_id)
    except NotFoundError:
        abort(404)
    if computer.lab_id is not None:
        return computer, computer.lab_id, require_lab_role(computer.lab_id, needed)
    if not _is_this_server(computer):
        abort(404)
    _, lab = chosen_lab()
    if lab is None:
        abort(404)
    return computer, lab.id, require_lab_role(lab.id, needed)


def _is_this_server(computer: Computer) -> bool:
    identity = local_station().identity
    return identity is not None and identity.computer_id == computer.id


def _station(computer: Computer) -> StationInterface | None:
    if _is_this_server(computer):
        return local_station()
    online = online_computer(computer.lab_id, computer.id)
    return None if online is None else RemoteStation(online)


def _render(computer: Computer, lab_id: int, role: Role, found: FoundInstruments | None) -> str:
    db = database()
    bindings = db.get_computer_bindings(computer_id=computer.id, lab_id=lab_id)
    for binding in bindings:  # JSON-able from the service; a time for the page
        if binding["last_connected"]:
            binding["last_connected"] = datetime.fromisoformat(binding["last_connected"])
    bound = {binding["adapter"] for binding in bindings if binding["adapter"]}
    runs_stored_code = not _is_this_server(computer)
    definitions = [
        d
        for d in (db.get_instrument_definitions(lab_id) if runs_stored_code else [])
        if d.approved_version is not None
    ]
    return render_template(
        "computer_instruments.html",
        computer=computer,
        lab=db.get_lab(lab_id),
        bindings=bindings,
        found=found,
        bound=bound,
        definitions=definitions,
        runs_stored_code=runs_stored_code,
        connected=_station(computer) is not None,
        can_find=role.allows(Role.MEMBER),
        can_bind=role.allows(Role.ADMIN),
        form=FlaskForm(),
    )
