"""The scan builder: compose a scan from this server's instruments, queue it, start it."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.errors import PyBirchError
from pybirch.queue import QueueState
from pybirch.scan import Scan
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.builder import MAX_AXES, BuilderError, build_settings, design_from_form
from pybirch.web.runtime import local_instruments, local_queues
from pybirch.web.services import database

blueprint = Blueprint("builder", __name__, url_prefix="/builder")


@blueprint.route("/")
@login_required
def form() -> str:
    """The builder form for one of the user's labs."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.MEMBER)
    return _render(lab.id, labs, errors={}, values={})


@blueprint.route("/<int:lab_id>", methods=["POST"])
@login_required
def build(lab_id: int) -> str | Response:
    """Make the scan, add it to the chosen (or a new) queue, and start it if asked."""
    require_lab_role(lab_id, Role.MEMBER)
    db = database()
    try:
        design = design_from_form(request.form, request.form.getlist("measure"))
        settings = build_settings(design, local_instruments())
        sample = _sample(lab_id, request.form.get("sample_id", type=int))
        queue = _queue(lab_id, request.form.get("queue"), request.form.get("new_queue", ""))
        handle = queue.enqueue(Scan(settings, sample))
        if request.form.get("action") == "start" and queue.state is QueueState.IDLE:
            queue.start()
    except PyBirchError as exc:  # a BuilderError says which field; others are about the scan
        errors = exc.errors if isinstance(exc, BuilderError) else {"scan": str(exc)}
        labs = db.labs_of_user(current_user.id)
        return _render(lab_id, labs, errors, request.form), 400  # type: ignore[return-value]
    flash(f"Scan {design.scan_name!r} added to queue {queue.QID!r}.", "info")
    return redirect(url_for("scans.detail", scan_id=handle.scan_id))


def _render(lab_id: int, labs: list, errors: dict[str, str], values: object) -> str:
    db = database()
    instruments = local_instruments()
    return render_template(
        "builder.html",
        lab=db.get_lab(lab_id),
        labs=labs,
        movements=instruments.movements(),
        measurements=instruments.measurements(),
        queues=local_queues().in_lab(lab_id),
        projects=db.search_projects(lab_id=lab_id, per_page=500).items,
        samples=db.search_samples(lab_id=lab_id, per_page=500).items,
        axes=range(1, MAX_AXES + 1),
        errors=errors,
        values=values,
    )


def _sample(lab_id: int, sample_pk: int | None) -> object:
    if not sample_pk:
        return None
    try:
        record = database().get_sample(sample_pk)
    except NotFoundError:
        raise BuilderError({"sample_id": "no such sample"}) from None
    if record.lab_id != lab_id:
        raise BuilderError({"sample_id": "no such sample"})
    return record.to_pybirch_sample()


def _queue(lab_id: int, choice: str | None, new_name: str) -> DatabaseQueue:
    queues = local_queues()
    if choice and choice != "new":
        queue = queues.get(int(choice)) if choice.isdigit() else None
        if queue is None or queue.lab_id != lab_id:
            raise BuilderError({"queue": "that queue is not run by this server"})
        return queue
    name = new_name.strip()
    if not name:
        raise BuilderError({"new_queue": "name the new queue"})
    return queues.add(
        DatabaseQueue(name, database(), operator=current_user.username, lab_id=lab_id)
    )
