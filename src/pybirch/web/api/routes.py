"""API routes: labs, scans and their data, read with a session or an API token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from pybirch.database.errors import DataIntegrityError, NotFoundError
from pybirch.database.models import MeasurementObject
from pybirch.database.models.scans import QUEUE_STATUSES, SCAN_STATUSES
from pybirch.database.services.paging import Page
from pybirch.web.api.limits import DEFAULT_PER_PAGE, MAX_ROWS
from pybirch.web.api.openapi import openapi_document
from pybirch.web.api.serializers import (
    data_document,
    iso,
    queue_summary,
    scan_document,
    scan_summary,
)
from pybirch.web.auth.access import labs_of_current_user, require_lab_role, visible_scan
from pybirch.web.control import can_control
from pybirch.web.extensions import csrf
from pybirch.web.listing import (
    MAX_ROW,
    choice,
    optional_number,
    page_number,
    page_size,
    search_text,
    whole_number,
)
from pybirch.web.services import database

blueprint = Blueprint("api", __name__, url_prefix="/api")
# CSRF is checked below, for cookie-authenticated writes only: a token is not a cookie.
csrf.exempt(blueprint)

#: ``flask.g`` key set when the request's user comes from a valid bearer token.
TOKEN_AUTHENTICATED = "authenticated_by_token"


@blueprint.before_request
def _protect_cookie_posts() -> None:
    """Writes by a session cookie need a CSRF token; only those by a valid bearer token do not.

    The mere presence of an ``Authorization`` header excuses nothing: the session is
    tried first, so a request with a session cookie is always checked.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not current_user.is_authenticated:
        return  # no session and no valid token: login_required answers 401
    if not g.get(TOKEN_AUTHENTICATED):
        csrf.protect()


@blueprint.errorhandler(HTTPException)
def _json_error(error: HTTPException) -> tuple[Response, int]:
    return jsonify(error={"code": error.code, "message": error.description}), error.code or 500


@blueprint.route("/v1/openapi.json")
def openapi() -> Response:
    """The OpenAPI document of this API (public, like the login page)."""
    return jsonify(openapi_document())


@blueprint.route("/instruments/status")  # the seed plan's route
@login_required
def instruments_status() -> Response:
    """Every instrument of the caller's labs: computer, status, last change and last error."""
    db = database()
    items = []
    for lab, _ in labs_of_current_user():
        for instrument in db.get_instruments_health(lab.id):
            computers = instrument["computers"]
            items.append(
                {
                    **instrument,
                    "lab_id": lab.id,
                    "computer": computers[0] if computers else None,
                    "changed_at": iso(instrument["changed_at"]),
                    "error_at": iso(instrument["error_at"]),
                    "last_connected": iso(instrument["last_connected"]),
                }
            )
    return jsonify(items=items)


@blueprint.route("/v1/labs")
@login_required
def labs() -> Response:
    """The labs the caller belongs to, with their role."""
    return jsonify(
        items=[
            {"id": lab.id, "name": lab.name, "role": role.value}
            for lab, role in labs_of_current_user()
        ]
    )


@blueprint.route("/v1/labs/<int:lab_id>/scans")
@login_required
def lab_scans(lab_id: int) -> Response:
    """A lab's scans, newest first: ``?q=``, ``?status=``, ``?page=``, ``?per_page=``."""
    return _lab_page(lab_id, database().search_scans, SCAN_STATUSES, scan_summary)


@blueprint.route("/v1/labs/<int:lab_id>/queues")
@login_required
def lab_queues(lab_id: int) -> Response:
    """A lab's queues, most recently changed first: ``?q=``, ``?status=``, paging."""
    return _lab_page(lab_id, database().search_queues, QUEUE_STATUSES, queue_summary)


def _lab_page(
    lab_id: int,
    search: Callable[..., Page[Any]],
    statuses: tuple[str, ...],
    summary: Callable[[Any], dict[str, Any]],
) -> Response:
    """One page of a lab's records, filtered by the request's ``q`` and ``status``."""
    require_lab_role(lab_id)
    page = search(
        search_text(),
        lab_id=lab_id,
        status=choice("status", statuses),
        page=page_number(),
        per_page=page_size(DEFAULT_PER_PAGE),
    )
    return jsonify(page.to_dict(summary))


@blueprint.route("/v1/queues/<int:queue_id>")
@login_required
def queue(queue_id: int) -> Response:
    """One queue with its scans (oldest first)."""
    try:
        record = database().get_queue_with_scans(queue_id, with_settings=False)
    except NotFoundError:
        abort(404, f"queue {queue_id} not found")
    require_lab_role(record.lab_id)
    return jsonify(
        {
            **queue_summary(record),
            "controllable": can_control(record),
            "scans": [scan_summary(scan) for scan in record.scans],
        }
    )


@blueprint.route("/v1/scans/<scan_id>")
@login_required
def scan(scan_id: str) -> Response:
    """One scan: record, settings, instruments and measurements."""
    record = visible_scan(scan_id, with_settings=True)
    db = database()
    measurements = [(m, db.get_row_count(m.id)) for m in db.get_measurement_objects(record.id)]
    return jsonify(scan_document(record, measurements))


# A measurement's name may hold a slash (its instrument's name): ``path`` keeps it whole.
@blueprint.route("/v1/scans/<scan_id>/data/<path:measurement_name>")
@blueprint.route("/scan/<scan_id>/data/<path:measurement_name>")  # the seed plan's route
@login_required
def scan_data(scan_id: str, measurement_name: str) -> Response:
    """Rows ``?start=`` to ``?end=`` (exclusive) of one measurement, at most MAX_ROWS."""
    measurement = visible_measurement(scan_id, measurement_name)
    db = database()
    start = whole_number("start", 0, 0, MAX_ROW)
    end = optional_number("end", start, MAX_ROW)
    stop = start + MAX_ROWS if end is None else min(end, start + MAX_ROWS)
    columns = request.args.get("columns")
    try:
        data = db.read_measurement(
            measurement.id, start, stop, None if columns is None else columns.split(",")
        )
    except DataIntegrityError as exc:
        abort(400, str(exc))
    document: dict[str, Any] = data_document(data)
    total = db.get_row_count(measurement.id)
    wanted_end = total if end is None else min(end, total)
    document["total_rows"] = total
    document["next_start"] = stop if stop < wanted_end else None
    return jsonify(document)


def visible_measurement(scan_id: str, measurement_name: str) -> MeasurementObject:
    """A measurement of a scan the caller may see; 404 otherwise."""
    record = visible_scan(scan_id)
    try:
        return database().find_measurement_object(record.id, measurement_name)
    except NotFoundError:
        abort(404, f"scan {scan_id} has no measurement {measurement_name!r}")


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def user_from_request(_request: Any) -> Any:
    """Flask-Login's request loader: the user of a valid ``Authorization: Bearer`` token."""
    from pybirch.web.auth.user import WebUser

    token = _bearer_token()
    if token is None:
        return None
    user = database().user_for_token(token)
    if user is None:
        return None
    g.setdefault(TOKEN_AUTHENTICATED, True)
    return WebUser.from_record(user)
