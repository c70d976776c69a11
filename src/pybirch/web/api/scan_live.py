"""A scan's live state for its page: status, numbers, rows per measurement, new log lines."""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Scan
from pybirch.web.api.routes import blueprint
from pybirch.web.api.serializers import iso, scan_summary
from pybirch.web.auth.access import visible_scan
from pybirch.web.control import can_control
from pybirch.web.listing import MAX_ROW, whole_number
from pybirch.web.scan_page import allowed_controls
from pybirch.web.services import database

__all__ = ["blueprint"]

#: Most log lines one answer carries; the page asks again from the last one.
MAX_LOG_LINES = 500


@blueprint.route("/v1/scans/<scan_id>/live")
@login_required
def scan_live(scan_id: str) -> Response:
    """Status, progress, times, error, rows per measurement and log lines after ``?after_log=``."""
    record = visible_scan(scan_id)
    after = whole_number("after_log", 0, 0, MAX_ROW)
    db = database()
    logs = db.get_scan_logs(record.id, after_id=after, limit=MAX_LOG_LINES)
    return jsonify(
        {
            **scan_summary(record),
            "error_message": record.error_message,
            "measurements": [
                {"name": m.name, "rows": db.get_row_count(m.id)}
                for m in db.get_measurement_objects(record.id)
            ],
            "controls": list(allowed_controls(record.status)),
            "controllable": _controllable(record),
            "logs": [
                {
                    "id": entry.id,
                    "timestamp": iso(entry.timestamp),
                    "level": entry.level,
                    "message": entry.message,
                }
                for entry in logs
            ],
        }
    )


def _controllable(record: Scan) -> bool:
    """Whether a control request for the scan has a station to obey it now."""
    if record.queue_id is None:
        return False
    try:
        return can_control(database().get_queue(record.queue_id))
    except NotFoundError:
        return False
