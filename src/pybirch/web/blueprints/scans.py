"""Scans: the searchable list, one scan's page, and its data as files."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.export import FORMATS, export_scan
from pybirch.database.models import Role, Scan
from pybirch.database.models.scans import SCAN_STATUSES
from pybirch.database.services.scans import ScanNotesError
from pybirch.scan.design import DesignError
from pybirch.web.auth.access import chosen_lab, lab_role, visible_scan
from pybirch.web.control import can_control
from pybirch.web.listing import choice, page_number, search_text
from pybirch.web.python_snippet import python_snippet
from pybirch.web.scan_designs import design_of_scan
from pybirch.web.scan_page import (
    SCAN_CONTROLS,
    allowed_controls,
    driver_label,
    log_time,
    parse_tags,
)
from pybirch.web.services import database

blueprint = Blueprint("scans", __name__, url_prefix="/scans")

PER_PAGE = 50


@blueprint.route("/")
@login_required
def index() -> str:
    """Scans of one of the user's labs, searchable and filtered, a page at a time."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    status = choice("status", SCAN_STATUSES)
    text = search_text()
    tag = (request.args.get("tag") or "").strip() or None
    page = page_number()
    db = database()
    scans = db.search_scans(
        text, lab_id=lab.id, status=status, tag=tag, page=page, per_page=PER_PAGE
    )
    return render_template(
        "scans.html",
        labs=labs,
        lab=lab,
        scans=scans,
        status=status,
        text=text or "",
        tag=tag or "",
        known_tags=db.scan_tags(lab.id),
        statuses=SCAN_STATUSES,
    )


@blueprint.route("/<scan_id>")
@login_required
def detail(scan_id: str) -> str:
    """One scan: metadata, sample, instruments and settings, measurements, logs, downloads."""
    scan = visible_scan(scan_id, with_settings=True)
    db = database()
    measurements = [
        (measurement, db.get_row_count(measurement.id))
        for measurement in db.get_measurement_objects(scan.id)
    ]
    sample = None if scan.sample_id is None else db.get_sample(scan.sample_id)
    role = lab_role(scan.lab_id)
    member = role is not None and role.allows(Role.MEMBER)
    return render_template(
        "scan.html",
        scan=scan,
        sample=sample,
        measurements=measurements,
        logs=db.get_scan_logs(scan.id, limit=500),
        formats=list(FORMATS),
        plot_columns={
            measurement.name: measurement.data_columns for measurement, _ in measurements
        },
        member=member,
        controllable=member and _controllable(scan),
        controls=allowed_controls(scan.status),
        control_table=SCAN_CONTROLS,
        drivers={
            name: driver_label(scan.driver_versions.get(name), snapshot.get("class"))
            for name, snapshot in scan.instrument_settings.items()
        },
        snippet=python_snippet(
            db.engine.url,
            scan.scan_id,
            [measurement.name for measurement, _ in measurements],
            gridded=any(c["kind"] == "position" for m, _ in measurements for c in m.columns),
        ),
        rerun_problem=_rerun_problem(scan) if member else None,
        log_time=log_time,
    )


@blueprint.route("/<scan_id>/notes", methods=["POST"])
@login_required
def save_notes(scan_id: str) -> Response:
    """Store the notes and tags typed on the scan's page (members), then show it again."""
    scan = visible_scan(scan_id, Role.MEMBER)
    try:
        database().update_scan_notes(
            scan.scan_id,
            lab_id=scan.lab_id,
            notes=request.form.get("notes", ""),
            tags=parse_tags(request.form.get("tags", "")),
        )
    except ScanNotesError as exc:
        flash(f"Notes not saved: {exc}", "error")
    else:
        flash("Notes and tags saved.", "info")
    return redirect(url_for("scans.detail", scan_id=scan.scan_id))


def _controllable(scan: Scan) -> bool:
    """Whether the scan's queue runs on a station connected now (so controls can work)."""
    if scan.queue_id is None:
        return False
    try:
        return can_control(database().get_queue(scan.queue_id))
    except NotFoundError:
        return False


def _rerun_problem(scan: Scan) -> str | None:
    """Why the builder cannot be prefilled with this scan, or None if it can."""
    try:
        design_of_scan(database(), scan.scan_id, scan.lab_id)
    except DesignError as exc:
        return exc.errors.get("scan", str(exc))
    except NotFoundError:
        return "the scan is gone"
    return None


@blueprint.route("/<scan_id>/download/<export_format>")
@login_required
def download(scan_id: str, export_format: str) -> Response:
    """The scan's data as a CSV, HDF5 or Parquet file (``?measurement=`` picks one)."""
    scan = visible_scan(scan_id)
    if export_format not in FORMATS:
        abort(404)
    db = database()
    measurements = db.get_measurement_objects(scan.id)
    if not measurements:  # a plain message: the scan exists, its data does not yet
        abort(
            Response(
                f"Scan {scan_id} has no measurements to download yet.", 404, mimetype="text/plain"
            )
        )
    name = request.args.get("measurement")
    if name is None and len(measurements) > 1 and not FORMATS[export_format].per_scan:
        abort(400, "this scan has several measurements: choose one with ?measurement=")
    if name is not None and name not in {m.name for m in measurements}:
        abort(404)
    folder = Path(tempfile.mkdtemp(prefix="pybirch-download-"))

    @after_this_request
    def _clean_up(response: Response) -> Response:
        shutil.rmtree(folder, ignore_errors=True)
        return response

    (path,) = export_scan(db, scan.id, folder, export_format, measurement=name)
    return send_file(path, as_attachment=True, download_name=path.name)
