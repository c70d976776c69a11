"""Review of instrument definition versions: approval, rejection and the audit trail.

A version is pending until a lab admin (or owner) who is not its author approves or
rejects it. Approving makes it the version lab computers run, pinned by the sha256 of its
code (``approved_code_hash``); code whose hash no longer matches the one stored with it was
changed behind the application's back and is refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pybirch.database.errors import (
    ApprovalDenied,
    CodeIntegrityError,
    NotFoundError,
    ReviewStateError,
)
from pybirch.database.models import (
    InstrumentDefinition,
    InstrumentDefinitionAudit,
    InstrumentDefinitionVersion,
    Role,
    utcnow,
)
from pybirch.database.services.accounts import member_role
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.definitions import (
    approve,
    code_hash,
    editable_definition,
    find_version,
    json_copy,
    record,
    visible_definition,
)


class DefinitionReviewMixin(ServiceCore):
    """Approve or reject definition versions, and read a definition's audit trail."""

    def approve_definition_version(
        self, definition_id: int, version: int, *, lab_id: int, reviewer_id: int, comment: str
    ) -> InstrumentDefinitionVersion:
        """Approve a pending version: lab computers run it from now on."""
        with self.session() as session:
            definition, row = _reviewable(session, definition_id, version, lab_id, reviewer_id)
            if code_hash(row.source_code) != row.code_hash:
                raise CodeIntegrityError(
                    f"version {row.version} of {definition.name!r} does not match the hash it "
                    "was stored with: its code was changed outside PyBirch"
                )
            approve(session, definition, row, reviewer_id, comment)
            session.flush()
            return row

    def reject_definition_version(
        self, definition_id: int, version: int, *, lab_id: int, reviewer_id: int, comment: str
    ) -> InstrumentDefinitionVersion:
        """Reject a pending version, saying why; it never runs."""
        if not (isinstance(comment, str) and comment.strip()):
            raise ValueError("a rejection needs a comment saying why")
        with self.session() as session:
            definition, row = _reviewable(session, definition_id, version, lab_id, reviewer_id)
            row.status = "rejected"
            row.review_note = comment
            record(session, definition, "rejected", reviewer_id, row.version, comment)
            session.flush()
            return row

    def record_definition_test(
        self, definition_id: int, version: int, result: dict[str, Any], *, lab_id: int | None
    ) -> InstrumentDefinitionVersion:
        """Keep the result of a version's own test with it, for its approver to see.

        A lab records results for its own definitions; results of builtin ones are recorded
        without a lab (PyBirch's own test run), never by a lab.
        """
        stored = json_copy(dict(result), "a test result")
        with self.session() as session:
            if lab_id is None:
                definition = session.get(InstrumentDefinition, definition_id)
                if definition is None or not definition.is_builtin:
                    raise NotFoundError("builtin InstrumentDefinition", definition_id)
            else:
                definition = editable_definition(session, definition_id, lab_id)
            row = find_version(session, definition, version)
            row.test_result = stored
            row.tested_at = utcnow()
            session.flush()
            return row

    def get_definition_audit(
        self, definition_id: int, *, lab_id: int | None
    ) -> list[InstrumentDefinitionAudit]:
        """Everything done to a definition the lab sees, oldest first."""
        with self.session() as session:
            return list(visible_definition(session, definition_id, lab_id).audit)


def _reviewable(
    session: Session, definition_id: int, version: int, lab_id: int, reviewer_id: int
) -> tuple[InstrumentDefinition, InstrumentDefinitionVersion]:
    """The lab's definition and its pending version, if ``reviewer_id`` may review it."""
    definition = editable_definition(session, definition_id, lab_id)
    row = find_version(session, definition, version)
    role = member_role(session, lab_id, reviewer_id)
    if role is None or not role.allows(Role.ADMIN):
        raise ApprovalDenied(
            f"only an admin of the lab reviews versions; user {reviewer_id} is not"
        )
    if row.created_by_id == reviewer_id:
        raise ApprovalDenied(
            f"user {reviewer_id} wrote version {row.version} of {definition.name!r}; "
            "another lab admin must review it"
        )
    if row.status != "pending":
        raise ReviewStateError(
            f"version {row.version} of {definition.name!r} is {row.status}, not pending review"
        )
    return definition, row
