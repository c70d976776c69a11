"""Projects and samples of a lab: list, search, create, edit; sample pictures."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from pybirch.database.errors import DuplicateError, NotFoundError
from pybirch.database.models import Role
from pybirch.database.models import Sample as SampleRecord
from pybirch.sample_images import MAX_IMAGE_PIXELS, SampleImageError, decode_png, encode_png
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.listing import page_number, search_text
from pybirch.web.services import database

blueprint = Blueprint("samples", __name__)

PER_PAGE = 50
#: Largest picture accepted, in bytes.
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class ProjectForm(FlaskForm):
    """A project's name, code and description."""

    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    code = StringField("Code", validators=[Optional(), Length(max=50)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])


class SampleForm(FlaskForm):
    """A sample's label, material, project, tags, notes and picture."""

    sample_id = StringField("Sample ID", validators=[DataRequired(), Length(max=100)])
    material = StringField("Material", validators=[Optional(), Length(max=255)])
    project_id = SelectField("Project", coerce=int, validators=[Optional()])
    tags = StringField("Tags (comma separated)", validators=[Optional(), Length(max=500)])
    description = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    image = FileField("Picture", validators=[FileAllowed(["png", "jpg", "jpeg", "tif", "tiff"])])

    #: The uploaded picture as PNG once the form is valid; None if none was sent.
    picture_png: bytes | None = None

    def validate_image(self, field: FileField) -> None:
        """Refuse a picture that is too big or unreadable, before anything is saved.

        Its size in pixels is read from the file's header first (``MAX_IMAGE_PIXELS`` in
        the app's configuration, 25 million by default): a small file can claim enough
        pixels to fill the server's memory once decoded.
        """
        if not field.data:
            return
        raw = field.data.read(MAX_IMAGE_BYTES + 1)
        if len(raw) > MAX_IMAGE_BYTES:
            raise ValidationError(f"the picture is larger than {MAX_IMAGE_BYTES // 2**20} MB")
        max_pixels = current_app.config.get("MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS)
        try:
            self.picture_png = encode_png(decode_png(raw, self.sample_id.data or "", max_pixels))
        except SampleImageError as exc:
            raise ValidationError(str(exc)) from exc


@blueprint.route("/projects/")
@login_required
def projects() -> str:
    """The lab's projects, searchable, with a form to add one (members)."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    text = search_text()
    page = page_number()
    found = database().search_projects(text, lab_id=lab.id, page=page, per_page=PER_PAGE)
    return render_template(
        "projects.html", labs=labs, lab=lab, projects=found, text=text or "", form=ProjectForm()
    )


@blueprint.route("/labs/<int:lab_id>/projects", methods=["POST"])
@login_required
def create_project(lab_id: int) -> Response:
    """Add a project to a lab (members and above)."""
    require_lab_role(lab_id, Role.MEMBER)
    form = ProjectForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "error")
    else:
        try:
            database().create_project(
                form.name.data.strip(),
                lab_id,
                code=form.code.data or None,
                description=form.description.data or None,
                created_by_id=current_user.id,
            )
            flash(f"Project {form.name.data!r} created.", "info")
        except DuplicateError:
            flash(f"The lab has a project called {form.name.data!r} already.", "error")
    return redirect(url_for("samples.projects", lab=lab_id))


@blueprint.route("/samples/")
@login_required
def samples() -> str:
    """The lab's samples, searchable, newest first."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    text = search_text()
    page = page_number()
    found = database().search_samples(text, lab_id=lab.id, page=page, per_page=PER_PAGE)
    return render_template("samples.html", labs=labs, lab=lab, samples=found, text=text or "")


@blueprint.route("/labs/<int:lab_id>/samples/new", methods=["GET", "POST"])
@login_required
def create_sample(lab_id: int) -> str | Response:
    """A form for a new sample (members and above)."""
    require_lab_role(lab_id, Role.MEMBER)
    form = _sample_form(lab_id)
    if form.validate_on_submit():  # the picture is read and checked here, before any write
        fields = _sample_fields(form)
        try:
            # One insert with every field: a refused value leaves no half-made sample behind.
            record = database().create_sample(
                fields.pop("sample_id"), lab_id=lab_id, created_by_id=current_user.id, **fields
            )
            flash(f"Sample {form.sample_id.data!r} created.", "info")
            return redirect(url_for("samples.sample", sample_pk=record.id))
        except DuplicateError:
            form.sample_id.errors.append("the lab has a sample with this ID already")
    return render_template("sample_form.html", form=form, lab_id=lab_id, sample=None)


@blueprint.route("/samples/<int:sample_pk>")
@login_required
def sample(sample_pk: int) -> str:
    """One sample: its record, picture and scans."""
    record = _visible_sample(sample_pk)
    role = require_lab_role(record.lab_id)
    return render_template(
        "sample.html",
        sample=record,
        scans=database().get_scans_for_sample(sample_pk),
        can_edit=role.allows(Role.MEMBER),
    )


@blueprint.route("/samples/<int:sample_pk>/edit", methods=["GET", "POST"])
@login_required
def edit_sample(sample_pk: int) -> str | Response:
    """Change a sample (members and above)."""
    record = _visible_sample(sample_pk)
    require_lab_role(record.lab_id, Role.MEMBER)
    form = _sample_form(record.lab_id, record)
    if form.validate_on_submit():
        try:
            _save_sample(sample_pk, form)
            flash("Sample saved.", "info")
            return redirect(url_for("samples.sample", sample_pk=sample_pk))
        except DuplicateError:
            form.sample_id.errors.append("the lab has a sample with this ID already")
    return render_template("sample_form.html", form=form, lab_id=record.lab_id, sample=record)


@blueprint.route("/samples/<int:sample_pk>/image.png")
@login_required
def sample_image(sample_pk: int) -> Response:
    """The sample's picture as PNG."""
    record = _visible_sample(sample_pk)
    if record.image_png is None:
        abort(404)
    response = Response(record.image_png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


def _visible_sample(sample_pk: int) -> SampleRecord:
    try:
        record = database().get_sample(sample_pk)
    except NotFoundError:
        abort(404)
    require_lab_role(record.lab_id)
    return record


def _sample_form(lab_id: int, record: SampleRecord | None = None) -> SampleForm:
    form = SampleForm()
    projects = database().search_projects(lab_id=lab_id, per_page=500).items
    form.project_id.choices = [
        SelectChoice(0, "—"),
        *(SelectChoice(project.id, project.name) for project in projects),
    ]
    if record is not None and request.method == "GET":
        form.sample_id.data = record.sample_id
        form.material.data = record.material
        form.project_id.data = record.project_id or 0
        form.tags.data = ", ".join(record.additional_tags or [])
        form.description.data = record.description
    return form


def _save_sample(sample_pk: int, form: SampleForm) -> None:
    database().update_sample(sample_pk, **_sample_fields(form))


def _sample_fields(form: SampleForm) -> dict[str, object]:
    """The sample's columns from a valid form; no new picture leaves the stored one alone."""
    fields: dict[str, object] = {
        "sample_id": form.sample_id.data.strip(),
        "material": (form.material.data or "").strip(),
        "project_id": form.project_id.data or None,
        "additional_tags": [t.strip() for t in (form.tags.data or "").split(",") if t.strip()],
        "description": form.description.data or None,
    }
    if form.picture_png is not None:  # no new picture keeps the old one
        fields["image_png"] = form.picture_png
    return fields


def _form_errors(form: FlaskForm) -> str:
    return "; ".join(
        f"{form[name].label.text}: {', '.join(errors)}" for name, errors in form.errors.items()
    )
