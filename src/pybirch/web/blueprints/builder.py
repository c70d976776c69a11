"""The scan builder: compose a scan from a computer's instruments, queue it, start it.

The computer is this server (its own station, the embedded shape) or a lab computer whose
agent is connected; either station builds the scan from the design and answers with the
scan's id or with what is wrong, field by field. A design can be kept as one of the lab's
templates, and the form can start from a template or from a previous scan.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from pybirch.database.errors import DuplicateError, NotFoundError
from pybirch.database.models import Role
from pybirch.errors import PyBirchError
from pybirch.scan.design import MAX_AXES, DesignError, ScanDesign
from pybirch.station import EnqueueRequest, QueueChoice, StationError, StationInterface
from pybirch.web.agents import online_computers
from pybirch.web.auth.access import chosen_lab, lab_role, require_lab_role
from pybirch.web.builder import (
    TEMPLATE_NAME_LENGTH,
    design_for_builder,
    design_from_form,
    field_id,
    field_label,
    max_scan_points,
    template_design,
    template_record,
)
from pybirch.web.builder_estimate import duration_text, estimate
from pybirch.web.scan_designs import design_of_scan
from pybirch.web.services import database
from pybirch.web.stations import THIS_SERVER, RemoteStation, chosen_station, local_station

blueprint = Blueprint("builder", __name__, url_prefix="/builder")

Values = MultiDict[str, Any]


@blueprint.route("/")
@login_required
def form() -> str:
    """The builder form for one of the user's labs, empty or from a template or a scan."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.MEMBER)
    values: Values = MultiDict()
    errors: dict[str, str] = {}
    origin = ""
    template_id = request.args.get("template", type=int)
    scan_id = request.args.get("from_scan", "").strip()
    try:
        if template_id:
            template = _lab_template(lab.id, template_id)
            values, origin = _prefill(template_design(template)), f"template {template.name!r}"
        elif scan_id:
            values, origin = _prefill(_design_of_scan(lab.id, scan_id)), f"scan {scan_id[:8]}"
    except DesignError as exc:  # a stored design the form cannot show: say so, start empty
        errors = exc.errors
    return _render(lab.id, labs, request.args.get("computer"), errors, values, origin=origin)


@blueprint.route("/<int:lab_id>", methods=["POST"])
@login_required
def build(lab_id: int) -> str | Response:
    """Make the scan on the chosen computer, add it to a queue, and start it if asked."""
    require_lab_role(lab_id, Role.MEMBER)
    choice = request.form.get("computer") or THIS_SERVER
    errors: dict[str, str] = {}
    design, station = _checked_design(lab_id, choice, errors)
    queue = _collect(
        errors, _queue_choice, request.form.get("queue"), request.form.get("new_queue")
    )
    sample = _collect(errors, _sample_pk, lab_id, request.form.get("sample_id", type=int))
    if design is not None and station is not None and not errors:
        try:
            enqueued = station.enqueue(
                EnqueueRequest(
                    lab_id=lab_id,
                    design=design,
                    queue=queue,
                    sample_id=sample,
                    operator=current_user.username,
                    start=request.form.get("action") == "start",
                )
            )
        except PyBirchError as exc:  # a DesignError says which field; others are about the scan
            errors.update(exc.errors if isinstance(exc, DesignError) else {"scan": str(exc)})
    if errors or design is None:
        return _render_again(lab_id, choice, errors)
    flash(f"Scan {design.scan_name!r} added to queue {enqueued.queue_name!r}.", "info")
    return redirect(url_for("scans.detail", scan_id=enqueued.scan_id))


@blueprint.route("/<int:lab_id>/templates", methods=["POST"])
@login_required
def save_template(lab_id: int) -> str | Response:
    """Keep the form's design as one of the lab's templates, then show the form from it."""
    require_lab_role(lab_id, Role.MEMBER)
    choice = request.form.get("computer") or THIS_SERVER
    errors: dict[str, str] = {}
    name = (request.form.get("template_name") or "").strip()
    if not name:
        errors["template_name"] = "name the template"
    elif len(name) > TEMPLATE_NAME_LENGTH:
        errors["template_name"] = f"at most {TEMPLATE_NAME_LENGTH} characters"
    design, _ = _checked_design(lab_id, choice, errors)
    if design is not None and not errors:
        try:
            template = database().create_scan_template(
                lab_id,
                name,
                template_record(design),
                scan_type=design.scan_type,
                description=(request.form.get("template_description") or "").strip() or None,
                project_id=_project_pk(lab_id, design.project_name),
            )
        except DuplicateError as exc:
            errors["template_name"] = f"{exc}: choose another name, or delete that one first"
    if errors or design is None:
        return _render_again(lab_id, choice, errors)
    flash(f"Template {template.name!r} saved.", "info")
    return redirect(url_for("builder.form", lab=lab_id, template=template.id, computer=choice))


@blueprint.route("/<int:lab_id>/templates")
@login_required
def templates(lab_id: int) -> str:
    """The lab's scan templates: viewers read them, members use and delete them."""
    role = require_lab_role(lab_id, Role.VIEWER)
    rows = []
    for template in database().list_scan_templates(lab_id):
        try:
            design: ScanDesign | None = ScanDesign.from_dict(template_design(template))
        except DesignError:
            design = None
        rows.append((template, design, math.prod(a.points for a in design.axes) if design else 0))
    return render_template(
        "builder_templates.html",
        lab=database().get_lab(lab_id),
        rows=rows,
        can_write=role.allows(Role.MEMBER),
    )


@blueprint.route("/<int:lab_id>/templates/<int:template_id>/delete", methods=["POST"])
@login_required
def delete_template(lab_id: int, template_id: int) -> Response:
    """Delete one of the lab's templates (scans made from it keep their own design)."""
    require_lab_role(lab_id, Role.MEMBER)
    template = _lab_template(lab_id, template_id)
    database().delete_scan_template(template.id, lab_id)
    flash(f"Template {template.name!r} deleted.", "info")
    return redirect(url_for("builder.templates", lab_id=lab_id))


# -- reading the form ---------------------------------------------------------------------


def _checked_design(
    lab_id: int, choice: str, errors: dict[str, str]
) -> tuple[ScanDesign | None, StationInterface | None]:
    """The form's design checked against the chosen computer's instruments; errors collected."""
    station = _collect(errors, _station, lab_id, choice)
    catalogue = station.catalogue() if station is not None else []
    measured = request.form.getlist("measure")
    design = _collect(errors, design_from_form, request.form, measured, catalogue)
    return design, station


def _collect(errors: dict[str, str], call: Any, *args: Any) -> Any:
    """``call(*args)``, or None with its DesignError's messages added to ``errors``."""
    try:
        return call(*args)
    except DesignError as exc:
        for key, message in exc.errors.items():
            errors.setdefault(key, message)
        return None


def _station(lab_id: int, choice: str) -> StationInterface:
    try:
        return chosen_station(lab_id, choice)
    except StationError as exc:
        raise DesignError({"computer": str(exc)}) from exc


def _queue_choice(choice: str | None, new_name: str | None) -> QueueChoice:
    if choice and choice != "new":
        if not choice.isdigit():
            raise DesignError({"queue": "choose a queue"})
        return QueueChoice(id=int(choice))
    return QueueChoice.from_dict({"name": new_name or ""})


def _sample_pk(lab_id: int, sample_pk: int | None) -> int | None:
    if not sample_pk:
        return None
    try:
        record = database().get_sample(sample_pk)
    except NotFoundError:
        raise DesignError({"sample_id": "no such sample"}) from None
    if record.lab_id != lab_id:
        raise DesignError({"sample_id": "no such sample"})
    return record.id


def _project_pk(lab_id: int, name: str) -> int | None:
    project = database().get_project_by_name(name, lab_id) if name else None
    return None if project is None else project.id


# -- templates and previous scans -------------------------------------------------------


def _lab_template(lab_id: int, template_id: int) -> Any:
    """The lab's template with this id; 404 for another lab's or none."""
    try:
        return database().get_scan_template(template_id, lab_id)
    except NotFoundError:
        abort(404)


def _design_of_scan(lab_id: int, scan_id: str) -> dict[str, Any]:
    """The design a previous scan of the lab was built from; 404 if the lab has no such scan."""
    try:
        return design_of_scan(database(), scan_id, lab_id)
    except NotFoundError:
        abort(404)


def _prefill(record: dict[str, Any]) -> Values:
    """Form values for a stored design (DesignError if it is not one)."""
    values: Values = MultiDict()
    for key, value in design_for_builder(record).items():
        if isinstance(value, list):
            values.setlist(key, value)
        else:
            values[key] = value
    return values


# -- the page -----------------------------------------------------------------------------


def _render_again(lab_id: int, choice: str, errors: dict[str, str]) -> str:
    """The form again with everything that was typed, each error by its field (400)."""
    labs = database().labs_of_user(current_user.id)
    return _render(lab_id, labs, choice, errors, request.form), 400  # type: ignore[return-value]


def _render(
    lab_id: int,
    labs: list,
    choice: str | None,
    errors: dict[str, str],
    values: Values,
    *,
    origin: str = "",
) -> str:
    db = database()
    computers = online_computers(lab_id)
    here = local_station()
    station: StationInterface = here
    computer = None
    if choice != THIS_SERVER and computers and (choice or not here.instruments.all()):
        computer = next((c for c in computers if str(c.id) == choice), computers[0])
        station = RemoteStation(computer)
    instruments = station.catalogue()
    timings = db.recent_scan_timings(lab_id)
    measured = values.getlist("measure")
    return render_template(
        "builder.html",
        lab=db.get_lab(lab_id),
        labs=labs,
        computers=computers,
        computer=computer,
        has_local=bool(here.instruments.all()),
        instruments=instruments,
        movements=[i for i in instruments if i.kind == "movement"],
        measurements=[i for i in instruments if i.kind == "measurement"],
        queues=station.queues(lab_id),
        projects=db.search_projects(lab_id=lab_id, per_page=500).items,
        samples=db.search_samples(lab_id=lab_id, per_page=500).items,
        templates=db.list_scan_templates(lab_id),
        axes=range(1, MAX_AXES + 1),
        errors=errors,
        values=values,
        measured=measured,
        origin=origin,
        estimate=estimate(values, measured, instruments, timings),
        duration_text=duration_text,
        field_id=field_id,
        field_label=field_label,
        role=lab_role(lab_id),
        builder_data={
            "instruments": [info.to_dict() for info in instruments],
            "timings": [
                {
                    "instruments": sorted(t.instruments),
                    "seconds_per_reading": t.seconds_per_reading,
                    "scan_name": t.scan_name,
                    "scan_id": t.scan_id,
                }
                for t in timings
            ],
            "max_points": max_scan_points(),
        },
    )
