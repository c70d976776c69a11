"""The scan builder: compose a scan from a computer's instruments, queue it, start it.

The computer is this server (its own station, the embedded shape) or a lab computer whose
agent is connected; either station builds the scan from the design and answers with the
scan's id or with what is wrong, field by field.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.errors import PyBirchError
from pybirch.scan.design import MAX_AXES, DesignError
from pybirch.station import EnqueueRequest, QueueChoice, StationError, StationInterface
from pybirch.web.agents import online_computers
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.builder import design_from_form
from pybirch.web.services import database
from pybirch.web.stations import THIS_SERVER, RemoteStation, chosen_station, local_station

blueprint = Blueprint("builder", __name__, url_prefix="/builder")


@blueprint.route("/")
@login_required
def form() -> str:
    """The builder form for one of the user's labs and one of its computers."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.MEMBER)
    return _render(lab.id, labs, request.args.get("computer"), errors={}, values={})


@blueprint.route("/<int:lab_id>", methods=["POST"])
@login_required
def build(lab_id: int) -> str | Response:
    """Make the scan on the chosen computer, add it to a queue, and start it if asked."""
    require_lab_role(lab_id, Role.MEMBER)
    choice = request.form.get("computer") or THIS_SERVER
    try:
        design = design_from_form(request.form, request.form.getlist("measure"))
        station = _station(lab_id, choice)
        enqueued = station.enqueue(
            EnqueueRequest(
                lab_id=lab_id,
                design=design,
                queue=_queue_choice(request.form.get("queue"), request.form.get("new_queue")),
                sample_id=_sample_pk(lab_id, request.form.get("sample_id", type=int)),
                operator=current_user.username,
                start=request.form.get("action") == "start",
            )
        )
    except PyBirchError as exc:  # a DesignError says which field; others are about the scan
        errors = exc.errors if isinstance(exc, DesignError) else {"scan": str(exc)}
        labs = database().labs_of_user(current_user.id)
        return _render(lab_id, labs, choice, errors, request.form), 400  # type: ignore[return-value]
    flash(f"Scan {design.scan_name!r} added to queue {enqueued.queue_name!r}.", "info")
    return redirect(url_for("scans.detail", scan_id=enqueued.scan_id))


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


def _render(
    lab_id: int, labs: list, choice: str | None, errors: dict[str, str], values: object
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
    return render_template(
        "builder.html",
        lab=db.get_lab(lab_id),
        labs=labs,
        computers=computers,
        computer=computer,
        has_local=bool(here.instruments.all()),
        movements=[i for i in instruments if i.kind == "movement"],
        measurements=[i for i in instruments if i.kind == "measurement"],
        queues=station.queues(lab_id),
        projects=db.search_projects(lab_id=lab_id, per_page=500).items,
        samples=db.search_samples(lab_id=lab_id, per_page=500).items,
        axes=range(1, MAX_AXES + 1),
        errors=errors,
        values=values,
    )


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
