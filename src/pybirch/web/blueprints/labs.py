"""Labs: the user's labs, a new lab (its creator owns it), and a lab's details."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from pybirch.database.errors import DuplicateError
from pybirch.database.models import Role
from pybirch.web.auth.access import labs_of_current_user, require_lab_role
from pybirch.web.services import database

blueprint = Blueprint("labs", __name__, url_prefix="/labs")


class LabForm(FlaskForm):
    """A lab's name, short code, description and address."""

    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    code = StringField("Code", validators=[Optional(), Length(max=50)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=2000)])


class LabSettingsForm(LabForm):
    """A lab's details and its rules, changed by its admins."""

    block_overdue_scans = BooleanField(
        "Refuse scans on instruments whose calibration or maintenance is overdue "
        "(otherwise they run, with a warning on their record)"
    )


@blueprint.route("/")
@login_required
def index() -> str:
    """The user's labs (``?q=`` narrows them) and a form for a new one."""
    text = (request.args.get("q") or "").strip().lower()
    labs = [
        (lab, role)
        for lab, role in labs_of_current_user()
        if not text or text in f"{lab.name} {lab.code or ''} {lab.description or ''}".lower()
    ]
    return render_template("labs.html", labs=labs, text=text, form=LabForm())


@blueprint.route("/", methods=["POST"])
@login_required
def create() -> str | Response:
    """A new lab, owned by the user who makes it."""
    form = LabForm()
    if form.validate_on_submit():
        db = database()
        try:
            lab = db.create_lab(
                form.name.data.strip(),
                code=form.code.data or None,
                description=form.description.data or None,
                address=form.address.data or None,
                created_by_id=current_user.id,
            )
        except DuplicateError:
            form.name.errors.append("a lab with this name or code exists already")
        else:
            db.set_membership(lab.id, current_user.id, Role.OWNER, created_by_id=current_user.id)
            flash(f"Lab {lab.name!r} created; you own it.", "info")
            return redirect(url_for("dashboard.index", lab=lab.id))
    return render_template("labs.html", labs=labs_of_current_user(), text="", form=form), 400  # type: ignore[return-value]


@blueprint.route("/<int:lab_id>/edit", methods=["GET", "POST"])
@login_required
def edit(lab_id: int) -> str | Response:
    """Change a lab's details (admins and owners)."""
    require_lab_role(lab_id, Role.ADMIN)
    db = database()
    lab = db.get_lab(lab_id)
    form = LabSettingsForm(obj=lab)
    if form.validate_on_submit():
        try:
            db.update_lab(
                lab_id,
                name=form.name.data.strip(),
                code=form.code.data or None,
                description=form.description.data or None,
                address=form.address.data or None,
                block_overdue_scans=form.block_overdue_scans.data,
            )
            flash("Lab saved.", "info")
            return redirect(url_for("labs.index"))
        except DuplicateError:
            form.name.errors.append("a lab with this name or code exists already")
    return render_template("lab_form.html", form=form, lab=lab)
