"""Stored instrument drivers: the lab's library, one definition's page, and version diffs.

Reading only, plus the settings form's defaults: editing, rollback and review live in
:mod:`.definition_edit` and :mod:`.approvals`. Nothing stored here is ever run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from pybirch.database.errors import DatabaseError
from pybirch.database.models import InstrumentDefinitionVersion, Role
from pybirch.definitions import DefinitionLibrary, InvalidDefinitionError
from pybirch.definitions.base_classes import INSTRUMENT_TYPES
from pybirch.web.api.definition_documents import origin
from pybirch.web.api.limits import ORIGINS, VERSION_STATUSES
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.definition_access import DefinitionContext, definition_context
from pybirch.web.listing import choice, optional_number
from pybirch.web.people import display_names
from pybirch.web.services import database
from pybirch.web.settings_form import SettingInput, read_settings, settings_inputs
from pybirch.web.side_by_side import side_by_side

blueprint = Blueprint("definitions", __name__, url_prefix="/definitions")


@blueprint.route("/")
@login_required
def index() -> str:
    """The definitions the lab sees, filtered by origin, type, category and review status."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    filters = {
        "origin": choice("origin", ORIGINS),
        "type": choice("type", INSTRUMENT_TYPES),
        "status": choice("status", VERSION_STATUSES),
        "category": request.args.get("category") or None,
    }
    role = require_lab_role(lab.id)
    db = database()
    seen = db.get_instrument_definitions(lab.id)
    rows = []
    for definition in seen:
        latest = db.get_definition_versions(definition.id, lab_id=lab.id)[-1]
        where = origin(definition, lab.id)
        if all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (filters["origin"], where),
                (filters["type"], definition.instrument_type),
                (filters["status"], latest.status),
                (filters["category"], definition.category),
            )
        ):
            rows.append((definition, latest, where))
    categories = sorted({d.category for d in seen if d.category})
    return render_template(
        "definitions.html",
        labs=labs,
        lab=lab,
        rows=rows,
        total=len(seen),
        filters=filters,
        categories=categories,
        origins=ORIGINS,
        types=INSTRUMENT_TYPES,
        statuses=VERSION_STATUSES,
        can_create=role.allows(Role.MEMBER),
        can_review=role.allows(Role.ADMIN),
    )


@blueprint.route("/<int:definition_id>")
@login_required
def detail(definition_id: int) -> str:
    """A definition: facts, settings form, latest code, versions, and its audit trail."""
    context = definition_context(definition_id)
    return _detail_page(context)


@blueprint.route("/<int:definition_id>/settings", methods=["POST"])
@login_required
def save_settings(definition_id: int) -> Response | tuple[str, int]:
    """Save the settings form as the definition's default settings (lab members)."""
    context = definition_context(definition_id)
    context.require_write()
    if not FlaskForm().validate_on_submit():
        abort(400, "the form expired; reload the page")
    definition = context.definition
    inputs = settings_inputs(definition.settings_schema, definition.default_settings)
    try:
        values = read_settings(inputs, request.form)
        DefinitionLibrary(database()).update(
            definition.id,
            lab_id=context.lab.id,
            author_id=current_user.id,
            default_settings=values,
            change_summary="default settings",
        )
    except InvalidDefinitionError as exc:
        flash(f"Settings not saved: {'; '.join(p.message for p in exc.report.problems)}", "error")
        return _detail_page(context, posted=request.form), 422
    except (ValueError, DatabaseError) as exc:
        flash(f"Settings not saved: {exc}", "error")
        return _detail_page(context, posted=request.form), 422
    flash("Default settings saved.", "info")
    return redirect(url_for(".detail", definition_id=definition.id, lab=context.lab.id))


@blueprint.route("/<int:definition_id>/diff")
@login_required
def diff(definition_id: int) -> str:
    """Two versions side by side: ``?from=`` (default: the previous) and ``?to=`` (latest)."""
    context = definition_context(definition_id)
    versions = database().get_definition_versions(definition_id, lab_id=context.lab.id)
    latest = versions[-1].version
    to_version = optional_number("to", 1, latest) or latest
    from_version = optional_number("from", 1, latest) or max(1, to_version - 1)
    unified = database().diff_definition_versions(
        definition_id, from_version, to_version, lab_id=context.lab.id
    )
    by_number = {version.version: version for version in versions}
    return render_template(
        "definition_diff.html",
        context=context,
        definition=context.definition,
        versions=versions,
        old=by_number[from_version],
        new=by_number[to_version],
        rows=side_by_side(unified),
        names=_names(versions),
    )


def _detail_page(context: DefinitionContext, posted: Mapping[str, str] | None = None) -> str:
    db = database()
    definition = context.definition
    versions = db.get_definition_versions(definition.id, lab_id=context.lab.id)
    audit = db.get_definition_audit(definition.id, lab_id=context.lab.id)
    defaults = definition.default_settings
    inputs = settings_inputs(definition.settings_schema, defaults)
    if posted is not None:
        inputs = [_with_posted(each, posted) for each in inputs]
    return render_template(
        "definition.html",
        context=context,
        definition=definition,
        lab=context.lab,
        origin=origin(definition, context.lab.id),
        versions=versions,
        latest=versions[-1],
        audit=audit,
        inputs=inputs,
        names=_names(versions) | display_names(row.created_by_id for row in audit),
        form=FlaskForm(),
        me=current_user.id,
    )


def _with_posted(each: SettingInput, posted: Mapping[str, str]) -> SettingInput:
    """The input showing what was posted for it."""
    key = f"setting-{each.name}"
    return replace(each, value=key in posted if each.kind == "checkbox" else posted.get(key, ""))


def _names(versions: list[InstrumentDefinitionVersion]) -> dict[int, str]:
    return display_names(v.created_by_id for v in versions) | display_names(
        v.approved_by_id for v in versions
    )
