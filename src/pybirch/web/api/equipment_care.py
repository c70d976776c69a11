"""Calibrations of an instrument, and the instruments falling due, over the API.

Viewers of an instrument's lab read its calibrations; members record one, as on its
care page (JSON, or a multipart form whose ``certificate`` part is the file).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, abort, jsonify, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage

from pybirch.database.models import Calibration, Instrument, Role
from pybirch.database.services.equipment_care import (
    MAX_CERTIFICATE_BYTES,
    CareDue,
    EquipmentCareError,
)
from pybirch.web.api.routes import blueprint
from pybirch.web.api.serializers import iso
from pybirch.web.auth.access import labs_of_current_user
from pybirch.web.auth.instrument_access import visible_instrument
from pybirch.web.lab_calendar import today
from pybirch.web.services import database

__all__ = ["blueprint"]

#: The fields of a calibration a request may send, beside the certificate file.
CALIBRATION_FIELDS = ("calibrated_on", "due_on", "performed_by", "notes")


@blueprint.route("/instruments/<int:instrument_id>/calibrations")
@login_required
def instrument_calibrations(instrument_id: int) -> Response:
    """An instrument's calibrations (newest first) and where it stands today."""
    instrument = visible_instrument(instrument_id)
    db = database()
    return jsonify(
        instrument=_instrument_document(instrument, db.due_state(instrument, today())),
        items=[
            _calibration_document(c)
            for c in db.list_calibrations(instrument.id, lab_id=instrument.lab_id)
        ],
    )


@blueprint.route("/instruments/<int:instrument_id>/calibrations", methods=["POST"])
@login_required
def record_instrument_calibration(instrument_id: int) -> tuple[Response, int]:
    """Record a calibration (members): JSON, or a multipart form with a ``certificate`` file."""
    instrument = visible_instrument(instrument_id, Role.MEMBER)  # who may, before what they sent
    fields, upload = _calibration_request()
    data = None
    if upload is not None:
        data = upload.read(MAX_CERTIFICATE_BYTES + 1)  # the service says if it is too large
    try:
        record = database().record_calibration(
            instrument.id,
            lab_id=instrument.lab_id,
            calibrated_on=_day(fields, "calibrated_on", required=True),  # type: ignore[arg-type]
            due_on=_day(fields, "due_on"),
            performed_by=_text(fields, "performed_by"),
            notes=_text(fields, "notes"),
            certificate=data,
            certificate_name=None if upload is None else upload.filename,
            created_by_id=current_user.id,
        )
    except EquipmentCareError as exc:
        abort(400, str(exc))
    return jsonify(_calibration_document(record)), 201


@blueprint.route("/instruments/due")
@login_required
def instruments_due() -> Response:
    """The caller's instruments due soon or overdue, most urgent first.

    ``?lab=`` narrows them to one of the caller's labs (another lab's id narrows them to
    nothing: whether it exists is not told).
    """
    wanted = request.args.get("lab", type=int)
    day = today()
    db = database()
    items = [
        _instrument_document(instrument, due)
        for lab, _ in labs_of_current_user()
        if wanted is None or lab.id == wanted
        for instrument, due in db.due_instruments(lab.id, day)
    ]
    return jsonify(today=day.isoformat(), items=items)


def _calibration_request() -> tuple[dict[str, Any], FileStorage | None]:
    """The fields sent (JSON or form) and the certificate file, if any."""
    if request.is_json:
        document = request.get_json(silent=True)
        if not isinstance(document, dict):
            abort(400, "send a JSON object with calibrated_on (YYYY-MM-DD) and optional fields")
        return document, None
    upload = request.files.get("certificate")
    if upload is not None and not upload.filename:
        upload = None
    return {name: request.form.get(name) for name in CALIBRATION_FIELDS}, upload


def _day(fields: dict[str, Any], name: str, *, required: bool = False) -> date | None:
    value = fields.get(name)
    if value in (None, ""):
        if required:
            abort(400, f"{name} is required (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        abort(400, f"{name} must be a date as YYYY-MM-DD, not {str(value)[:40]!r}")


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        abort(400, f"{name} must be text")
    return value


def _calibration_document(record: Calibration) -> dict[str, Any]:
    certificate = None
    if record.certificate_name:
        certificate = {
            "name": record.certificate_name,
            "media_type": record.certificate_type,
            "size": record.certificate_size,
            "sha256": record.certificate_sha256,
            "url": url_for(
                "equipment_care.certificate",
                instrument_id=record.instrument_id,
                calibration_id=record.id,
            ),
        }
    return {
        "id": record.id,
        "instrument_id": record.instrument_id,
        "calibrated_on": record.calibrated_on.isoformat(),
        "due_on": None if record.due_on is None else record.due_on.isoformat(),
        "performed_by": record.performed_by,
        "notes": record.notes,
        "certificate": certificate,
        "created_at": iso(record.created_at),
    }


def _instrument_document(instrument: Instrument, due: CareDue) -> dict[str, Any]:
    def state(value: Any, day: date | None) -> dict[str, Any]:
        return {"state": value.value, "due": None if day is None else day.isoformat()}

    return {
        "id": instrument.id,
        "lab_id": instrument.lab_id,
        "name": instrument.name,
        "calibration": state(due.calibration, due.calibration_due),
        "maintenance": state(due.maintenance, due.maintenance_due),
        "care_url": url_for("equipment_care.page", instrument_id=instrument.id),
    }
