"""Lab admins review pending driver versions: approve (computers then run it) or reject.

A version's author never reviews it: the page shows their own versions with the reason
instead of the buttons. Approval pins the version by the hash of its code.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from pybirch.database.errors import DatabaseError
from pybirch.database.models import InstrumentDefinition, InstrumentDefinitionVersion, Role
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.definition_access import definition_context
from pybirch.web.people import display_names
from pybirch.web.services import database
from pybirch.web.stations import renew_drivers_soon

blueprint = Blueprint("approvals", __name__, url_prefix="/approvals")


@dataclass(frozen=True)
class Pending:
    """A version waiting for review, with its definition and the version it would replace."""

    definition: InstrumentDefinition
    version: InstrumentDefinitionVersion

    @property
    def compare_with(self) -> int:
        """The version to diff against: the approved one, else the previous one."""
        approved = self.definition.approved_version
        return approved if approved else max(1, self.version.version - 1)


@blueprint.route("/")
@login_required
def index() -> str:
    """The lab's versions pending review, oldest first (lab admins)."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.ADMIN)
    db = database()
    pending = [
        Pending(definition, version)
        for definition in db.get_instrument_definitions(
            lab.id, include_public=False, include_builtin=False
        )
        for version in db.get_definition_versions(definition.id, lab_id=lab.id)
        if version.status == "pending"
    ]
    pending.sort(key=lambda each: each.version.created_at)
    return render_template(
        "approvals.html",
        labs=labs,
        lab=lab,
        pending=pending,
        names=display_names(each.version.created_by_id for each in pending),
        me=current_user.id,
        form=FlaskForm(),
    )


@blueprint.route(
    "/<int:definition_id>/<int:version>/approve", methods=["POST"], defaults={"decision": "approve"}
)
@blueprint.route(
    "/<int:definition_id>/<int:version>/reject", methods=["POST"], defaults={"decision": "reject"}
)
@login_required
def review(definition_id: int, version: int, decision: str) -> Response:
    """Approve or reject a version with the reviewer's comment."""
    context = definition_context(definition_id)
    context.require_review()
    if not FlaskForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    comment = (request.form.get("comment") or "").strip()
    db = database()
    act = db.approve_definition_version if decision == "approve" else db.reject_definition_version
    back = redirect(url_for(".index", lab=context.lab.id))
    try:
        act(
            definition_id,
            version,
            lab_id=context.lab.id,
            reviewer_id=current_user.id,
            comment=comment,
        )
    except (DatabaseError, ValueError) as exc:
        flash(f"{context.definition.name} version {version}: {exc}", "error")
        return back
    if decision == "approve":
        renew_drivers_soon(context.lab.id)
    done = (
        "approved: lab computers load it now (an instrument a scan holds keeps its version "
        "until that scan ends)"
        if decision == "approve"
        else "rejected"
    )
    flash(f"{context.definition.name} version {version} {done}.", "info")
    return back
