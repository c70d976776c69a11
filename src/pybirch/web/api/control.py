"""Control: start, pause, resume and abort a queue or one of its scans (the seed's routes)."""

from __future__ import annotations

from flask import Response, abort, jsonify
from flask_login import login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.errors import PyBirchError
from pybirch.web.api.routes import blueprint
from pybirch.web.auth.access import require_lab_role
from pybirch.web.runtime import local_queues
from pybirch.web.services import database

QUEUE_ACTIONS = ("start", "pause", "resume", "abort")
SCAN_ACTIONS = ("pause", "resume", "abort")

__all__ = ["blueprint"]


@blueprint.route("/queue/<int:queue_id>/<action>", methods=["POST"])
@blueprint.route("/v1/queues/<int:queue_id>/<action>", methods=["POST"])
@login_required
def control_queue(queue_id: int, action: str) -> Response:
    """Start, pause, resume or abort a whole queue (members and above)."""
    if action not in QUEUE_ACTIONS:
        abort(404)
    queue = _controllable_queue(queue_id)
    _obey(lambda: getattr(queue, action)())
    return jsonify(queue_id=queue_id, action=action, status=queue.state.value)


@blueprint.route("/scan/<scan_id>/<action>", methods=["POST"])
@blueprint.route("/v1/scans/<scan_id>/<action>", methods=["POST"])
@login_required
def control_scan(scan_id: str, action: str) -> Response:
    """Pause, resume or abort one scan of a queue (members and above)."""
    if action not in SCAN_ACTIONS:
        abort(404)
    try:
        record = database().get_scan(scan_id)
    except NotFoundError:
        abort(404, f"scan {scan_id} not found")
    require_lab_role(record.lab_id, Role.MEMBER)
    if record.queue_id is None:
        abort(409, f"scan {scan_id} is not run by a queue; it cannot be controlled from here")
    queue = _controllable_queue(record.queue_id)
    _obey(lambda: getattr(queue, f"{action}_scan")(record.scan_id))
    return jsonify(
        scan_id=scan_id, action=action, status=queue.get_handle(record.scan_id).state.value
    )


def _controllable_queue(queue_id: int) -> DatabaseQueue:
    """The live queue, if the caller may control it; 404, 403 or 409 otherwise."""
    try:
        record = database().get_queue(queue_id)
    except NotFoundError:
        abort(404, f"queue {queue_id} not found")
    require_lab_role(record.lab_id, Role.MEMBER)
    queue = local_queues().get(queue_id)
    if queue is None:
        abort(
            409,
            f"queue {record.queue_id!r} runs on {record.computer_name or 'another computer'}, "
            f"not in this server",
        )
    return queue


def _obey(action: object) -> None:
    """Run a control action; a state that forbids it is a 409 with the reason."""
    try:
        action()  # type: ignore[operator]
    except PyBirchError as exc:
        abort(409, str(exc))
