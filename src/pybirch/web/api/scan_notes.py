"""A scan's notes and tags: read by viewers, written by members of its lab."""

from __future__ import annotations

from flask import Response, abort, jsonify, request
from flask_login import login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.database.services.scans import ScanNotesError
from pybirch.web.api.routes import blueprint
from pybirch.web.auth.access import visible_scan
from pybirch.web.services import database

__all__ = ["blueprint"]


@blueprint.route("/v1/scans/<scan_id>/notes", methods=["PUT"])
@login_required
def scan_notes(scan_id: str) -> Response:
    """Replace the scan's notes and/or tags: JSON ``{"notes": str, "tags": [str]}``."""
    record = visible_scan(scan_id, Role.MEMBER)  # who may, before what they sent
    document = request.get_json(silent=True)
    if not isinstance(document, dict) or not {"notes", "tags"} & document.keys():
        abort(400, 'send a JSON object with "notes" (text) and/or "tags" (a list of text)')
    notes, tags = document.get("notes"), document.get("tags")
    if notes is not None and not isinstance(notes, str):
        abort(400, "notes must be text")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    ):
        abort(400, "tags must be a list of text")
    try:
        saved = database().update_scan_notes(
            record.scan_id, lab_id=record.lab_id, notes=notes, tags=tags
        )
    except ScanNotesError as exc:
        abort(400, str(exc))
    except NotFoundError:  # deleted meanwhile
        abort(404, f"scan {scan_id} not found")
    return jsonify(scan_id=saved.scan_id, notes=saved.notes or "", tags=list(saved.tags))
