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
    render_template,
    request,
    send_file,
)
from flask_login import login_required

from pybirch.database.export import FORMATS, export_scan
from pybirch.database.models.scans import SCAN_STATUSES
from pybirch.web.auth.access import chosen_lab, visible_scan
from pybirch.web.listing import choice, page_number, search_text
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
    page = page_number()
    db = database()
    scans = db.search_scans(text, lab_id=lab.id, status=status, page=page, per_page=PER_PAGE)
    return render_template(
        "scans.html",
        labs=labs,
        lab=lab,
        scans=scans,
        status=status,
        text=text or "",
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
    )


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
