"""Control routes: start, pause, resume and abort a queue or one of its scans."""

from __future__ import annotations

from flask import Response, abort, jsonify
from flask_login import login_required

from pybirch.web.api.routes import blueprint
from pybirch.web.control import ControlRefused, act_on_queue, act_on_scan

__all__ = ["blueprint"]


@blueprint.route("/queue/<int:queue_id>/<action>", methods=["POST"])  # the seed plan's route
@blueprint.route("/v1/queues/<int:queue_id>/<action>", methods=["POST"])
@login_required
def control_queue(queue_id: int, action: str) -> Response:
    """Start, pause, resume or abort a whole queue (members and above)."""
    try:
        status = act_on_queue(queue_id, action)
    except ControlRefused as refused:
        abort(409, str(refused))
    return jsonify(queue_id=queue_id, action=action, status=status)


@blueprint.route("/scan/<scan_id>/<action>", methods=["POST"])  # the seed plan's route
@blueprint.route("/v1/scans/<scan_id>/<action>", methods=["POST"])
@login_required
def control_scan(scan_id: str, action: str) -> Response:
    """Pause, resume or abort one scan of a queue (members and above)."""
    try:
        status = act_on_scan(scan_id, action)
    except ControlRefused as refused:
        abort(409, str(refused))
    return jsonify(scan_id=scan_id, action=action, status=status)
