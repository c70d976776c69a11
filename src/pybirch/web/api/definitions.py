"""Instrument definition routes: list, create, edit, validate, versions, diff, rollback, review.

The server validates stored code (parses and compiles it) but never runs it. A lab sees its
own definitions, public ones and builtin ones; another lab's private one is a 404.
Members write, admins who did not write a version review it; builtin and other labs'
public definitions are read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from flask import Response, abort, jsonify, request
from flask_login import current_user, login_required

from pybirch.database.errors import (
    ApprovalDenied,
    CodeIntegrityError,
    DatabaseError,
    DefinitionPermissionError,
    DuplicateError,
    NotFoundError,
    ReviewStateError,
)
from pybirch.database.models import InstrumentDefinition
from pybirch.definitions import DefinitionLibrary, InvalidDefinitionError
from pybirch.definitions.base_classes import INSTRUMENT_TYPES
from pybirch.definitions.library import VALIDATED_FIELDS
from pybirch.web.api.definition_documents import (
    audit_document,
    definition_document,
    definition_summary,
    report_document,
    version_document,
    version_summary,
)
from pybirch.web.api.limits import ORIGINS, VERSION_STATUSES
from pybirch.web.api.routes import blueprint
from pybirch.web.auth.access import chosen_lab
from pybirch.web.definition_access import definition_context, writable_lab
from pybirch.web.definition_fields import BodyError, Submitted, from_json
from pybirch.web.listing import choice, optional_number
from pybirch.web.people import display_names
from pybirch.web.services import database
from pybirch.web.stations import renew_drivers_soon

__all__ = ["blueprint"]

_PREFIX = "/instrument-definitions"  # the seed plan's routes, under /api


@blueprint.route(_PREFIX)
@login_required
def definitions() -> Response:
    """The definitions the lab (``?lab=``) sees, by ``?type=``, ``?category=``, ``?status=``,
    ``?origin=``."""
    _, lab = chosen_lab()
    kind = choice("type", INSTRUMENT_TYPES)
    status = choice("status", VERSION_STATUSES)
    where = choice("origin", ORIGINS)
    category = request.args.get("category") or None
    lab_id = None if lab is None else lab.id
    db = database()
    items = []
    for definition in db.get_instrument_definitions(lab_id, kind, category=category):
        latest = db.get_definition_versions(definition.id, lab_id=lab_id)[-1]
        summary = definition_summary(definition, latest, lab_id or 0)
        if (status is None or latest.status == status) and where in (None, summary["origin"]):
            items.append(summary)
    return jsonify(lab_id=lab_id, items=items)


@blueprint.route(_PREFIX, methods=["POST"])
@login_required
def create_definition() -> tuple[Response, int]:
    """Store a new definition in ``?lab=`` (or the body's ``lab_id``) if its code validates."""
    lab = writable_lab(request.args.get("lab", type=int) or _body_lab())
    submitted = _submitted()
    code = submitted.version.pop("source_code", None)
    name, kind = submitted.fields.pop("name", None), submitted.fields.pop("instrument_type", None)
    if not isinstance(code, str) or not name or not kind:
        abort(400, "a definition needs name, instrument_type and source_code")
    with _refusals():
        definition = DefinitionLibrary(database()).create(
            lab.id,
            name,
            kind,
            code,
            author_id=current_user.id,
            **submitted.version,
            **submitted.fields,
        )
    return jsonify(_document(definition, lab.id)), 201


@blueprint.route(f"{_PREFIX}/validate", methods=["POST"])
@login_required
def validate_code() -> Response:
    """Validate unsaved code (and fields) without storing or running it."""
    submitted = _submitted()
    code = submitted.version.get("source_code")
    if not isinstance(code, str):
        abort(400, "send source_code to validate")
    report = DefinitionLibrary(database()).validate(code, **submitted.fields)
    return jsonify(report_document(report))


@blueprint.route(f"{_PREFIX}/<int:definition_id>")
@login_required
def definition(definition_id: int) -> Response:
    """One definition with its latest code and every version's summary."""
    context = definition_context(definition_id)
    return jsonify(_document(context.definition, context.lab.id))


@blueprint.route(f"{_PREFIX}/<int:definition_id>", methods=["PUT"])
@login_required
def update_definition(definition_id: int) -> Response:
    """Edit a lab's own definition; new code makes a new version, pending review."""
    context = definition_context(definition_id)
    context.require_write()
    submitted = _submitted()
    with _refusals():
        changed = DefinitionLibrary(database()).update(
            definition_id,
            lab_id=context.lab.id,
            author_id=current_user.id,
            **submitted.version,
            **submitted.fields,
        )
    return jsonify(_document(changed, context.lab.id))


@blueprint.route(f"{_PREFIX}/<int:definition_id>/validate", methods=["POST"])
@login_required
def validate_definition(definition_id: int) -> Response:
    """Validate the stored latest version, or the body's code with the definition's fields."""
    context = definition_context(definition_id)
    library = DefinitionLibrary(database())
    body = request.get_json(silent=True) if request.content_length else None
    if not body:
        report = library.validate_stored(definition_id, lab_id=context.lab.id)
        return jsonify(report_document(report))
    submitted = _submitted()
    code = submitted.version.get("source_code")
    if not isinstance(code, str):
        abort(400, "send source_code to validate, or no body for the stored version")
    stored = {key: getattr(context.definition, key) for key in VALIDATED_FIELDS}
    return jsonify(report_document(library.validate(code, **{**stored, **submitted.fields})))


@blueprint.route(f"{_PREFIX}/<int:definition_id>/versions")
@login_required
def definition_versions(definition_id: int) -> Response:
    """Every version of a definition, oldest first, without code."""
    context = definition_context(definition_id)
    versions = database().get_definition_versions(definition_id, lab_id=context.lab.id)
    names = display_names(v.created_by_id for v in versions) | display_names(
        v.approved_by_id for v in versions
    )
    return jsonify(items=[version_summary(version, names) for version in versions])


@blueprint.route(f"{_PREFIX}/<int:definition_id>/versions/<int:version>")
@login_required
def definition_version(definition_id: int, version: int) -> Response:
    """One version with its code, test and simulated device."""
    context = definition_context(definition_id)
    row = database().get_definition_version(definition_id, version, lab_id=context.lab.id)
    names = display_names([row.created_by_id, row.approved_by_id])
    return jsonify(version_document(row, names))


@blueprint.route(f"{_PREFIX}/<int:definition_id>/diff")
@login_required
def definition_diff(definition_id: int) -> Response:
    """A unified diff of two versions' code: ``?from=`` (default: previous) ``&to=`` (latest)."""
    context = definition_context(definition_id)
    latest = context.definition.version
    to_version = optional_number("to", 1, latest) or latest
    from_version = optional_number("from", 1, latest) or max(1, to_version - 1)
    diff = database().diff_definition_versions(
        definition_id, from_version, to_version, lab_id=context.lab.id
    )
    return jsonify({"from": from_version, "to": to_version, "diff": diff})


@blueprint.route(f"{_PREFIX}/<int:definition_id>/rollback", methods=["POST"])
@login_required
def rollback_definition(definition_id: int) -> tuple[Response, int]:
    """A new pending version with an old version's code: body ``{"version": n}``."""
    context = definition_context(definition_id)
    context.require_write()
    body = _json_object()
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        abort(400, 'say which version to roll back to: {"version": <number>}')
    summary = body.get("change_summary")
    with _refusals():
        row = database().rollback_instrument_definition(
            definition_id,
            version,
            lab_id=context.lab.id,
            author_id=current_user.id,
            change_summary=summary if isinstance(summary, str) and summary.strip() else None,
        )
    return jsonify(version_summary(row, display_names([row.created_by_id]))), 201


@blueprint.route(f"{_PREFIX}/<int:definition_id>/versions/<int:version>/approve", methods=["POST"])
@login_required
def approve_version(definition_id: int, version: int) -> Response:
    """Approve a pending version (a lab admin who did not write it): computers run it."""
    return _review(definition_id, version, approve=True)


@blueprint.route(f"{_PREFIX}/<int:definition_id>/versions/<int:version>/reject", methods=["POST"])
@login_required
def reject_version(definition_id: int, version: int) -> Response:
    """Reject a pending version, saying why in ``{"comment": ...}``."""
    return _review(definition_id, version, approve=False)


@blueprint.route(f"{_PREFIX}/<int:definition_id>/audit")
@login_required
def definition_audit(definition_id: int) -> Response:
    """Everything done to a definition, oldest first."""
    context = definition_context(definition_id)
    rows = database().get_definition_audit(definition_id, lab_id=context.lab.id)
    names = display_names(row.created_by_id for row in rows)
    return jsonify(items=[audit_document(row, names) for row in rows])


# -- shared ---------------------------------------------------------------------------------


def _review(definition_id: int, version: int, *, approve: bool) -> Response:
    context = definition_context(definition_id)
    context.require_review()
    comment = _json_object().get("comment")
    if comment is not None and not isinstance(comment, str):
        abort(400, "comment must be text")
    db = database()
    review = db.approve_definition_version if approve else db.reject_definition_version
    with _refusals():
        row = review(
            definition_id,
            version,
            lab_id=context.lab.id,
            reviewer_id=current_user.id,
            comment=(comment or "").strip(),
        )
    if approve:
        renew_drivers_soon(context.lab.id)  # lab computers load it now, not only before a scan
    names = display_names([row.created_by_id, row.approved_by_id])
    return jsonify(version_summary(row, names))


def _document(definition: InstrumentDefinition, lab_id: int) -> dict[str, Any]:
    versions = database().get_definition_versions(definition.id, lab_id=lab_id)
    names = display_names(v.created_by_id for v in versions) | display_names(
        v.approved_by_id for v in versions
    )
    return definition_document(definition, versions, lab_id, names)


def _json_object() -> dict[str, Any]:
    """The request's JSON object (400 if the body is something else)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return body


def _body_lab() -> int | None:
    lab_id = (request.get_json(silent=True) or {}).get("lab_id") if request.is_json else None
    return lab_id if isinstance(lab_id, int) and not isinstance(lab_id, bool) else None


def _submitted() -> Submitted:
    """The body as a submitted definition (400 if it is not one)."""
    try:
        return from_json(_json_object())
    except BodyError as exc:
        abort(400, str(exc))


@contextmanager
def _refusals() -> Iterator[None]:
    """The library's and service's refusals as JSON errors with a fitting status."""
    try:
        yield
    except InvalidDefinitionError as exc:
        problems = [asdict(problem) for problem in exc.report.problems]
        response = jsonify(
            error={"code": 422, "message": str(exc), "problems": problems},
            report=report_document(exc.report),
        )
        response.status_code = 422
        abort(response)
    except NotFoundError:
        raise  # the app's handler: 404
    except (ApprovalDenied, DefinitionPermissionError) as exc:
        abort(403, str(exc))
    except (DuplicateError, ReviewStateError, CodeIntegrityError) as exc:
        abort(409, str(exc))
    except (DatabaseError, ValueError) as exc:
        abort(400, str(exc))
