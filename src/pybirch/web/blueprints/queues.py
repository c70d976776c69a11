"""Queues: the list, one queue's page with its scans and log, and its controls."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.control import ControlRefused, act_on_queue, act_on_scan, can_control
from pybirch.web.listing import page_number
from pybirch.web.services import database

blueprint = Blueprint("queues", __name__, url_prefix="/queues")

PER_PAGE = 50
LOG_LINES = 300


@blueprint.route("/")
@login_required
def index() -> str:
    """The queues of one of the user's labs, most recently active first."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    page = page_number()
    queues = database().search_queues(lab_id=lab.id, page=page, per_page=PER_PAGE)
    return render_template("queues.html", labs=labs, lab=lab, queues=queues)


@blueprint.route("/<int:queue_id>")
@login_required
def detail(queue_id: int) -> str:
    """One queue: status, scans with progress, log, and controls for members."""
    db = database()
    try:
        queue = db.get_queue_with_scans(queue_id, with_settings=False)
    except NotFoundError:
        abort(404)
    role = require_lab_role(queue.lab_id)
    logs = db.get_queue_logs(queue.id, limit=LOG_LINES)
    return render_template(
        "queue.html",
        queue=queue,
        logs=logs,
        can_control=role.allows(Role.MEMBER) and can_control(queue),
    )


@blueprint.route("/<int:queue_id>/<action>", methods=["POST"])
@login_required
def control(queue_id: int, action: str) -> Response:
    """A control button of the queue page."""
    try:
        act_on_queue(queue_id, action)
        flash(f"Queue: {action} requested.", "info")
    except ControlRefused as refused:
        flash(str(refused), "error")
    return redirect(url_for("queues.detail", queue_id=queue_id))


@blueprint.route("/<int:queue_id>/scans/<scan_id>/<action>", methods=["POST"])
@login_required
def control_scan(queue_id: int, scan_id: str, action: str) -> Response:
    """A control button of one scan on the queue page."""
    try:
        act_on_scan(scan_id, action)
        flash(f"Scan: {action} requested.", "info")
    except ControlRefused as refused:
        flash(str(refused), "error")
    return redirect(url_for("queues.detail", queue_id=queue_id))
