"""Writing stored drivers in the browser: start from a template, edit, roll back.

Every save is validated (parsed and compiled, never run); code that does not validate is
not stored, and the form comes back as typed with each problem at its line. New code makes
a new version, pending until another lab admin approves it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from pybirch.database.errors import DatabaseError, DuplicateError
from pybirch.database.models import Role
from pybirch.definitions import DefinitionLibrary, InvalidDefinitionError, Problem
from pybirch.definitions.base_classes import INSTRUMENT_TYPES
from pybirch.definitions.templates import TEMPLATES
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.definition_access import DefinitionContext, definition_context
from pybirch.web.definition_fields import Submitted, from_form
from pybirch.web.definition_form import from_definition, from_post, from_template
from pybirch.web.services import database

blueprint = Blueprint("definition_edit", __name__, url_prefix="/definitions")

#: The base class a new definition starts from unless the page is asked for another.
DEFAULT_TEMPLATE = "VisaBaseMeasurementInstrument"


@blueprint.route("/new")
@login_required
def new() -> str:
    """A new definition's editor, filled from the ``?base=`` template (lab members)."""
    _, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.MEMBER)
    base = request.args.get("base") or DEFAULT_TEMPLATE
    if base not in TEMPLATES:
        abort(404, f"no template for base class {base!r}")
    return _editor(lab.id, from_template(TEMPLATES[base]), base=base)


@blueprint.route("/new", methods=["POST"])
@login_required
def create() -> Response | tuple[str, int]:
    """Store the new definition in ``?lab=`` if it validates; else show the form again."""
    lab_id = request.args.get("lab", type=int)
    require_lab_role(lab_id, Role.MEMBER)
    _require_form()
    submitted = from_form(request.form)
    fields, version = dict(submitted.fields), dict(submitted.version)
    name, kind = fields.pop("name", None), fields.pop("instrument_type", None)
    code = version.pop("source_code", "")
    if submitted.problems:
        return _refused(lab_id, None, submitted.problems)
    try:
        definition = DefinitionLibrary(database()).create(
            lab_id, name or "", kind or "", code, author_id=current_user.id, **version, **fields
        )
    except InvalidDefinitionError as exc:
        return _refused(lab_id, None, exc.report.problems)
    except (DatabaseError, ValueError) as exc:
        return _refused(lab_id, None, [Problem(str(exc), field=_field_of(exc))])
    flash(f"{definition.name} saved as version 1, pending a lab admin's approval.", "info")
    return redirect(url_for("definitions.detail", definition_id=definition.id, lab=lab_id))


@blueprint.route("/<int:definition_id>/edit")
@login_required
def edit(definition_id: int) -> str:
    """The editor on a definition's latest version (members of its lab)."""
    context = definition_context(definition_id)
    context.require_write()
    latest = database().get_definition_version(
        definition_id, context.definition.version, lab_id=context.lab.id
    )
    return _editor(context.lab.id, from_definition(context.definition, latest.source_code), context)


@blueprint.route("/<int:definition_id>/edit", methods=["POST"])
@login_required
def update(definition_id: int) -> Response | tuple[str, int]:
    """Save the edit; new code becomes a new pending version."""
    context = definition_context(definition_id)
    context.require_write()
    _require_form()
    submitted = from_form(request.form)
    if submitted.problems:
        return _refused(context.lab.id, context, submitted.problems)
    before = context.definition.version
    try:
        changed = DefinitionLibrary(database()).update(
            definition_id,
            lab_id=context.lab.id,
            author_id=current_user.id,
            **_edit_arguments(submitted),
        )
    except InvalidDefinitionError as exc:
        return _refused(context.lab.id, context, exc.report.problems)
    except (DatabaseError, ValueError) as exc:
        return _refused(context.lab.id, context, [Problem(str(exc), field=_field_of(exc))])
    if changed.version != before:
        flash(f"Saved as version {changed.version}, pending a lab admin's approval.", "info")
    else:
        flash("Saved; the code is unchanged, so no new version was made.", "info")
    return redirect(url_for("definitions.detail", definition_id=definition_id, lab=context.lab.id))


@blueprint.route("/<int:definition_id>/rollback", methods=["POST"])
@login_required
def rollback(definition_id: int) -> Response:
    """Make an old version's code the newest version again, pending review."""
    context = definition_context(definition_id)
    context.require_write()
    _require_form()
    back = redirect(url_for("definitions.detail", definition_id=definition_id, lab=context.lab.id))
    version = request.form.get("version", type=int)
    if version is None:
        flash("Choose the version to roll back to.", "error")
        return back
    try:
        row = database().rollback_instrument_definition(
            definition_id, version, lab_id=context.lab.id, author_id=current_user.id
        )
    except DatabaseError as exc:
        flash(f"Not rolled back: {exc}", "error")
        return back
    flash(f"Version {row.version} now holds the code of version {version}, pending review.", "info")
    return back


def _edit_arguments(submitted: Submitted) -> dict[str, object]:
    """What the library's update takes from a submitted edit (the form's every field)."""
    fields = dict(submitted.fields)
    if fields.get("name") is None:
        fields.pop("name", None)  # a name is never cleared; validation of it is the service's
    if fields.get("display_name") is None and "name" in fields:
        fields["display_name"] = fields["name"]
    return {**fields, **submitted.version}


def _require_form() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")


def _field_of(error: Exception) -> str:
    return "name" if isinstance(error, DuplicateError) else "source_code"


def _refused(
    lab_id: int, context: DefinitionContext | None, problems: list[Problem]
) -> tuple[str, int]:
    """The editor again, as posted, with every problem; nothing was stored."""
    flash("Not saved: fix the problems marked below.", "error")
    return _editor(lab_id, from_post(request.form), context, problems), 422


def _editor(
    lab_id: int,
    values: dict[str, str],
    context: DefinitionContext | None = None,
    problems: list[Problem] | None = None,
    base: str | None = None,
) -> str:
    problems = problems or []
    return render_template(
        "definition_edit.html",
        lab=database().get_lab(lab_id),
        context=context,
        values=values,
        problems=problems,
        code_problems=[p for p in problems if p.field == "source_code"],
        field_problems={p.field: p.message for p in problems if p.field != "source_code"},
        templates=TEMPLATES,
        base=base,
        types=INSTRUMENT_TYPES,
        form=FlaskForm(),
    )
