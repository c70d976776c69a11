"""An instrument's calibration and maintenance page: what is due, certificates, the log.

Viewers read everything, certificates included. Members record calibrations and
maintenance and set the schedule: they are the ones who send an instrument away for
calibration and clean its optics, and a lab that had to wait for an admin for each entry
would stop keeping the log. Who entered what is kept with every record.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from werkzeug.datastructures import FileStorage
from wtforms import DateField, IntegerField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Instrument, Role
from pybirch.database.services.equipment_care import (
    MAX_CERTIFICATE_BYTES,
    MAX_TEXT_LENGTH,
    CertificateError,
    EquipmentCareError,
    check_certificate,
)
from pybirch.web.auth.access import lab_role
from pybirch.web.auth.instrument_access import visible_instrument
from pybirch.web.lab_calendar import today
from pybirch.web.services import database

blueprint = Blueprint("equipment_care", __name__, url_prefix="/instruments")

#: What the file picker offers; the file's own first bytes decide (see check_certificate).
CERTIFICATE_EXTENSIONS = ["pdf", "png", "jpg", "jpeg"]


class CalibrationForm(FlaskForm):
    """A calibration: when, until when, by whom, notes, and its certificate file."""

    calibrated_on = DateField("Calibrated on", validators=[DataRequired()])
    due_on = DateField("Due on", validators=[Optional()])
    performed_by = StringField("Calibrated by", validators=[Optional(), Length(max=255)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=MAX_TEXT_LENGTH)])
    certificate = FileField(
        "Certificate (PDF, PNG or JPEG)", validators=[FileAllowed(CERTIFICATE_EXTENSIONS)]
    )

    #: The certificate's bytes once the form is valid; None if no file was sent.
    certificate_bytes: bytes | None = None

    def validate_due_on(self, field: DateField) -> None:
        """A calibration falls due after it was made."""
        if field.data and self.calibrated_on.data and field.data < self.calibrated_on.data:
            raise ValidationError("falls due after the calibration date")

    def validate_certificate(self, field: FileField) -> None:
        """Read at most one byte more than allowed, then check its size and kind."""
        if not isinstance(field.data, FileStorage) or not field.data.filename:
            return
        data = field.data.read(MAX_CERTIFICATE_BYTES + 1)
        try:
            check_certificate(data)
        except CertificateError as exc:
            raise ValidationError(str(exc)) from exc
        self.certificate_bytes = data


class MaintenanceForm(FlaskForm):
    """Maintenance done: when, by whom, what, and (optionally) when the next one falls due."""

    performed_on = DateField("Done on", validators=[DataRequired()])
    performed_by = StringField("Done by", validators=[DataRequired(), Length(max=255)])
    description = TextAreaField(
        "What was done", validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)]
    )
    next_due = DateField("Next due (default: one interval later)", validators=[Optional()])

    def validate_next_due(self, field: DateField) -> None:
        """The next maintenance comes after this one."""
        if field.data and self.performed_on.data and field.data <= self.performed_on.data:
            raise ValidationError("comes after the day it was done")


class ScheduleForm(FlaskForm):
    """How often the instrument is maintained, and when next."""

    interval_days = IntegerField(
        "Every (days)", validators=[Optional(), NumberRange(min=1, max=36_600)]
    )
    next_due = DateField("Next due", validators=[Optional()])


@blueprint.route("/<int:instrument_id>/care")
@login_required
def page(instrument_id: int) -> str:
    """Calibration and maintenance of one instrument, with forms for members."""
    instrument = visible_instrument(instrument_id)
    return _render(instrument)


@blueprint.route("/<int:instrument_id>/care/calibrations", methods=["POST"])
@login_required
def record_calibration(instrument_id: int) -> str | Response:
    """Record a calibration with its certificate (members)."""
    instrument = visible_instrument(instrument_id, Role.MEMBER)
    form = CalibrationForm()
    if not form.validate_on_submit():
        return _render(instrument, calibration_form=form), 400  # type: ignore[return-value]
    upload = form.certificate.data
    try:
        database().record_calibration(
            instrument.id,
            lab_id=instrument.lab_id,
            calibrated_on=form.calibrated_on.data,
            due_on=form.due_on.data,
            performed_by=form.performed_by.data,
            notes=form.notes.data,
            certificate=form.certificate_bytes,
            certificate_name=upload.filename if isinstance(upload, FileStorage) else None,
            created_by_id=current_user.id,
        )
    except EquipmentCareError as exc:
        form.calibrated_on.errors = [str(exc)]
        return _render(instrument, calibration_form=form), 400  # type: ignore[return-value]
    flash(f"Calibration of {instrument.name} on {form.calibrated_on.data} recorded.", "info")
    return redirect(url_for("equipment_care.page", instrument_id=instrument.id))


@blueprint.route("/<int:instrument_id>/care/calibrations/<int:calibration_id>/certificate")
@login_required
def certificate(instrument_id: int, calibration_id: int) -> Response:
    """A calibration's certificate file, as a download."""
    instrument = visible_instrument(instrument_id)
    try:
        found = database().get_certificate(
            calibration_id, lab_id=instrument.lab_id, instrument_id=instrument.id
        )
    except NotFoundError:
        abort(404)
    response = Response(found.data, mimetype=found.media_type)
    # A download, never shown inside the site: a PDF or picture from anyone in the lab
    # must not run as part of its pages.
    response.headers.set("Content-Disposition", "attachment", filename=found.name)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@blueprint.route("/<int:instrument_id>/care/maintenance", methods=["POST"])
@login_required
def add_maintenance(instrument_id: int) -> str | Response:
    """Log maintenance done (members); the next one moves on by the interval."""
    instrument = visible_instrument(instrument_id, Role.MEMBER)
    form = MaintenanceForm()
    if not form.validate_on_submit():
        return _render(instrument, maintenance_form=form), 400  # type: ignore[return-value]
    try:
        entry = database().add_maintenance_entry(
            instrument.id,
            lab_id=instrument.lab_id,
            performed_on=form.performed_on.data,
            performed_by=form.performed_by.data,
            description=form.description.data,
            next_due=form.next_due.data,
            created_by_id=current_user.id,
        )
    except EquipmentCareError as exc:
        form.description.errors = [str(exc)]
        return _render(instrument, maintenance_form=form), 400  # type: ignore[return-value]
    after = f"; next due {entry.next_due}" if entry.next_due else ""
    flash(f"Maintenance of {instrument.name} logged{after}.", "info")
    return redirect(url_for("equipment_care.page", instrument_id=instrument.id))


@blueprint.route("/<int:instrument_id>/care/schedule", methods=["POST"])
@login_required
def set_schedule(instrument_id: int) -> str | Response:
    """Set how often the instrument is maintained and when next (members)."""
    instrument = visible_instrument(instrument_id, Role.MEMBER)
    form = ScheduleForm()
    if not form.validate_on_submit():
        return _render(instrument, schedule_form=form), 400  # type: ignore[return-value]
    database().set_maintenance_schedule(
        instrument.id,
        lab_id=instrument.lab_id,
        interval_days=form.interval_days.data,
        next_due=form.next_due.data,
    )
    flash(f"Maintenance schedule of {instrument.name} saved.", "info")
    return redirect(url_for("equipment_care.page", instrument_id=instrument.id))


def _render(instrument: Instrument, **forms: Any) -> str:
    db = database()
    role = lab_role(instrument.lab_id)
    day = today()
    maintenance_form = forms.get("maintenance_form") or MaintenanceForm(
        performed_on=day, performed_by=current_user.display_name
    )
    return render_template(
        "equipment_care.html",
        instrument=instrument,
        lab=db.get_lab(instrument.lab_id),
        today=day,
        due=db.due_state(instrument, day),
        calibrations=db.list_calibrations(instrument.id, lab_id=instrument.lab_id),
        maintenance=db.list_maintenance(instrument.id, lab_id=instrument.lab_id),
        member=role is not None and role.allows(Role.MEMBER),
        calibration_form=forms.get("calibration_form") or CalibrationForm(calibrated_on=day),
        maintenance_form=maintenance_form,
        schedule_form=forms.get("schedule_form")
        or ScheduleForm(
            interval_days=instrument.maintenance_interval_days,
            next_due=instrument.next_maintenance,
        ),
        max_certificate_mb=MAX_CERTIFICATE_BYTES // 2**20,
    )
