"""Instrument definitions: driver code kept in the database, its versions, diffs and rollbacks.

A definition belongs to a lab, or to none when it ships with PyBirch (``is_builtin``). A lab
sees its own definitions, public ones (``is_public``) and builtin ones, never another lab's
private ones; it changes only its own. Every change of the code makes a new version, pending
until a lab admin who is not its author approves it (:mod:`.definition_review`); a change of
the other fields does not. Each create, edit and rollback is a row of the audit trail.

Storage takes plain values and checks only what the database must hold (a known type, JSON
values, a member as author): whether the code is a valid driver is decided by the caller,
through :func:`pybirch.definitions.validation.validate_definition`, since this layer never
imports the engine (see :class:`pybirch.definitions.library.DefinitionLibrary`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pybirch.database.errors import (
    DatabaseError,
    DefinitionPermissionError,
    DuplicateError,
    NotFoundError,
    ReadOnlyDefinitionError,
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

#: The kinds of instrument a definition makes.
INSTRUMENT_TYPES = ("measurement", "movement")

#: Fields a lab changes with :meth:`DefinitionsMixin.update_instrument_definition`.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "display_name",
        "description",
        "instrument_type",
        "category",
        "manufacturer",
        "base_class",
        "dependencies",
        "settings_schema",
        "default_settings",
        "data_columns",
        "data_units",
        "position_column",
        "position_units",
        "is_public",
    }
)

#: Fields stored as JSON documents: checked to be JSON before they reach the database.
_JSON_FIELDS = frozenset(
    {"dependencies", "settings_schema", "default_settings", "data_columns", "data_units"}
)


class DefinitionsMixin(ServiceCore):
    """Create, list, edit, diff and roll back instrument definitions, scoped by lab."""

    def create_instrument_definition(
        self,
        lab_id: int | None,
        name: str,
        instrument_type: str,
        source_code: str,
        *,
        author_id: int | None,
        change_summary: str | None = None,
        is_builtin: bool = False,
        test_code: str | None = None,
        sim_device: str | None = None,
        **fields: Any,
    ) -> InstrumentDefinition:
        """A new definition and its version 1, pending review (builtin ones come approved).

        ``fields`` are the other columns (:data:`EDITABLE_FIELDS`): ``display_name``,
        ``description``, ``base_class``, ``data_columns``, ``settings_schema``, ...;
        ``test_code`` and ``sim_device`` are the version's own test and simulated device.
        """
        values = _checked_fields({"name": name, "instrument_type": instrument_type, **fields})
        with self.session() as session:
            _check_owner(session, lab_id, author_id, is_builtin)
            _check_unique_name(session, lab_id, values["name"])
            definition = InstrumentDefinition(
                lab_id=lab_id,
                is_builtin=is_builtin,
                created_by_id=author_id,
                display_name=values.pop("display_name", None) or values["name"],
                version=1,
                **values,
            )
            session.add(definition)
            session.flush()
            version = add_version(
                session,
                definition,
                VersionContent(source_code, test_code, sim_device),
                author_id,
                change_summary,
            )
            record(session, definition, "created", author_id, version.version, change_summary)
            if is_builtin:
                # PyBirch ships it reviewed; no lab admin could approve it.
                approve(session, definition, version, None, "ships with PyBirch")
            return definition

    def get_instrument_definitions(
        self,
        lab_id: int | None = None,
        type: str | None = None,  # the seed plan's name
        *,
        include_public: bool = True,
        include_builtin: bool = True,
        category: str | None = None,
    ) -> list[InstrumentDefinition]:
        """The definitions a lab sees (its own, public, builtin), by name; None: no lab's own."""
        seen = [InstrumentDefinition.lab_id == lab_id] if lab_id is not None else []
        if include_public:
            seen.append(InstrumentDefinition.is_public.is_(True))
        if include_builtin:
            seen.append(InstrumentDefinition.is_builtin.is_(True))
        if not seen:
            return []
        statement = self._filtered(
            InstrumentDefinition, instrument_type=type, category=category
        ).where(or_(*seen))
        with self.session() as session:
            return list(
                session.scalars(
                    statement.order_by(InstrumentDefinition.name, InstrumentDefinition.id)
                )
            )

    def get_instrument_definition(
        self, definition_id: int, *, lab_id: int | None
    ) -> InstrumentDefinition:
        """A definition the lab sees (NotFoundError for another lab's private one)."""
        with self.session() as session:
            return visible_definition(session, definition_id, lab_id)

    def update_instrument_definition(
        self,
        definition_id: int,
        *,
        lab_id: int,
        author_id: int,
        source_code: str | None = None,
        change_summary: str | None = None,
        test_code: str | None = None,
        sim_device: str | None = None,
        **fields: Any,
    ) -> InstrumentDefinition:
        """Change a lab's own definition; new code (or test) makes a new pending version.

        Other fields (:data:`EDITABLE_FIELDS`) change in place, recorded in the audit trail
        but making no version. Code, test and device equal to the latest version's are no
        change; one left out (None) stays as it is (an empty string removes a test).
        """
        values = _checked_fields(fields)
        with self.session() as session:
            definition = editable_definition(session, definition_id, lab_id)
            _check_writer(session, lab_id, author_id)
            if "name" in values and values["name"] != definition.name:
                _check_unique_name(session, definition.lab_id, values["name"])
            changed = sorted(k for k, v in values.items() if getattr(definition, k) != v)
            for key in changed:
                setattr(definition, key, values[key])
            latest = latest_version(session, definition)
            content = VersionContent.of(latest).replaced(source_code, test_code, sim_device)
            if content != VersionContent.of(latest):
                version = add_version(session, definition, content, author_id, change_summary)
                record(
                    session,
                    definition,
                    "edited",
                    author_id,
                    version.version,
                    change_summary,
                    fields=changed,
                )
            elif changed:
                record(
                    session,
                    definition,
                    "updated",
                    author_id,
                    latest.version,
                    change_summary,
                    fields=changed,
                )
            session.flush()
            return definition

    def update_builtin_definition(
        self,
        definition_id: int,
        source_code: str,
        *,
        test_code: str | None = None,
        sim_device: str | None = None,
        change_summary: str | None = None,
        **fields: Any,
    ) -> InstrumentDefinitionVersion | None:
        """A new builtin version as a PyBirch release ships it, approved; None if unchanged.

        Only PyBirch itself calls this (no lab edits a builtin definition): the version has
        no author, and its fields follow the release.
        """
        values = _checked_fields(fields)
        content = VersionContent(source_code, test_code or None, sim_device or None)
        with self.session() as session:
            definition = session.get(InstrumentDefinition, definition_id)
            if definition is None or not definition.is_builtin:
                raise NotFoundError("builtin InstrumentDefinition", definition_id)
            if VersionContent.of(latest_version(session, definition)) == content:
                return None
            for key, value in values.items():
                setattr(definition, key, value)
            version = add_version(session, definition, content, None, change_summary)
            record(session, definition, "edited", None, version.version, change_summary)
            approve(session, definition, version, None, "ships with PyBirch")
            session.flush()
            return version

    def get_definition_versions(
        self, definition_id: int, *, lab_id: int | None
    ) -> list[InstrumentDefinitionVersion]:
        """Every version of a definition the lab sees, oldest first."""
        with self.session() as session:
            definition = visible_definition(session, definition_id, lab_id)
            return list(definition.versions)

    def get_definition_version(
        self, definition_id: int, version: int, *, lab_id: int | None
    ) -> InstrumentDefinitionVersion:
        """One version of a definition the lab sees."""
        with self.session() as session:
            return find_version(
                session, visible_definition(session, definition_id, lab_id), version
            )

    def diff_definition_versions(
        self, definition_id: int, from_version: int, to_version: int, *, lab_id: int | None
    ) -> str:
        """A unified diff of the code of two versions (empty when equal)."""
        with self.session() as session:
            definition = visible_definition(session, definition_id, lab_id)
            old = find_version(session, definition, from_version)
            new = find_version(session, definition, to_version)
            lines = difflib.unified_diff(
                old.source_code.splitlines(),
                new.source_code.splitlines(),
                fromfile=f"{definition.name} version {old.version}",
                tofile=f"{definition.name} version {new.version}",
                lineterm="",
            )
            return "\n".join(lines)

    def rollback_instrument_definition(
        self,
        definition_id: int,
        to_version: int,
        *,
        lab_id: int,
        author_id: int,
        change_summary: str | None = None,
    ) -> InstrumentDefinitionVersion:
        """A new version with an old version's code, pending review again."""
        with self.session() as session:
            definition = editable_definition(session, definition_id, lab_id)
            _check_writer(session, lab_id, author_id)
            old = find_version(session, definition, to_version)
            summary = change_summary or f"rolled back to version {old.version}"
            version = add_version(session, definition, VersionContent.of(old), author_id, summary)
            record(
                session,
                definition,
                "rolled_back",
                author_id,
                version.version,
                summary,
                restored_version=old.version,
            )
            return version


# -- shared with the review mixin ----------------------------------------------------------


def code_hash(source_code: str) -> str:
    """The sha256 a version's code is pinned by."""
    return hashlib.sha256(source_code.encode("utf-8")).hexdigest()


def visible_definition(
    session: Session, definition_id: int, lab_id: int | None
) -> InstrumentDefinition:
    """The definition if the lab may see it: its own, public or builtin; else NotFoundError."""
    definition = session.get(InstrumentDefinition, definition_id)
    if definition is None or not seen_by(definition, lab_id):
        raise NotFoundError("InstrumentDefinition", definition_id)
    return definition


def seen_by(definition: InstrumentDefinition, lab_id: int | None) -> bool:
    """Whether a lab (None: none) may see and run the definition: its own, public, builtin."""
    return (
        definition.is_builtin
        or definition.is_public
        or (lab_id is not None and definition.lab_id == lab_id)
    )


def editable_definition(session: Session, definition_id: int, lab_id: int) -> InstrumentDefinition:
    """The definition if it is the lab's own; builtin and other labs' public ones are read-only."""
    definition = visible_definition(session, definition_id, lab_id)
    if definition.is_builtin or definition.lab_id != lab_id:
        raise ReadOnlyDefinitionError(
            f"definition {definition.name!r} is "
            + ("builtin" if definition.is_builtin else "another lab's")
            + ": read-only to this lab"
        )
    return definition


def latest_version(
    session: Session, definition: InstrumentDefinition
) -> InstrumentDefinitionVersion:
    """The definition's newest version."""
    return find_version(session, definition, definition.version)


def find_version(
    session: Session, definition: InstrumentDefinition, version: int
) -> InstrumentDefinitionVersion:
    """A version of the definition, or NotFoundError."""
    row = session.scalar(
        select(InstrumentDefinitionVersion).where(
            InstrumentDefinitionVersion.definition_id == definition.id,
            InstrumentDefinitionVersion.version == version,
        )
    )
    if row is None:
        raise NotFoundError(f"version of definition {definition.name!r}", version)
    return row


class VersionContent(NamedTuple):
    """What a version holds and its reviewer approves: the code, its test, its device."""

    source_code: str
    test_code: str | None = None
    sim_device: str | None = None

    @classmethod
    def of(cls, version: InstrumentDefinitionVersion) -> VersionContent:
        """The content of a stored version."""
        return cls(version.source_code, version.test_code, version.sim_device)

    def replaced(
        self, source_code: str | None, test_code: str | None, sim_device: str | None
    ) -> VersionContent:
        """This content with the parts given (not None) replaced; "" clears a test or device."""
        return VersionContent(
            self.source_code if source_code is None else source_code,
            self.test_code if test_code is None else (test_code or None),
            self.sim_device if sim_device is None else (sim_device or None),
        )


def add_version(
    session: Session,
    definition: InstrumentDefinition,
    content: VersionContent,
    author_id: int | None,
    change_summary: str | None,
) -> InstrumentDefinitionVersion:
    """The definition's next version, pending review; the definition's ``version`` follows."""
    source_code = content.source_code
    if not isinstance(source_code, str) or not source_code.strip():
        raise ValueError("source_code must be non-empty text")
    for name in ("test_code", "sim_device"):
        if getattr(content, name) is not None and not isinstance(getattr(content, name), str):
            raise ValueError(f"{name} must be text")
    number = 1 if not definition.versions else definition.version + 1
    version = InstrumentDefinitionVersion(
        definition=definition,
        version=number,
        source_code=source_code,
        test_code=content.test_code,
        sim_device=content.sim_device,
        code_hash=code_hash(source_code),
        change_summary=change_summary,
        status="pending",
        created_by_id=author_id,
    )
    session.add(version)
    definition.version = number
    session.flush()
    return version


def approve(
    session: Session,
    definition: InstrumentDefinition,
    version: InstrumentDefinitionVersion,
    reviewer_id: int | None,
    comment: str | None,
) -> None:
    """Make ``version`` the one computers run, pinned by its hash; older pending ones lapse."""
    version.status = "approved"
    version.approved_by_id = reviewer_id
    version.approved_at = utcnow()
    version.review_note = comment
    definition.approved_version = version.version
    definition.approved_code_hash = version.code_hash
    for older in definition.versions:
        if older.version < version.version and older.status == "pending":
            older.status = "superseded"
    record(
        session,
        definition,
        "approved",
        reviewer_id,
        version.version,
        comment,
        code_hash=version.code_hash,
    )


def record(
    session: Session,
    definition: InstrumentDefinition,
    action: str,
    user_id: int | None,
    version: int | None,
    comment: str | None,
    **details: Any,
) -> InstrumentDefinitionAudit:
    """Add a row to the definition's audit trail."""
    row = InstrumentDefinitionAudit(
        definition=definition,
        action=action,
        version=version,
        comment=comment,
        details=details,
        created_by_id=user_id,
    )
    session.add(row)
    return row


def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Known fields with storable values (DatabaseError / ValueError otherwise)."""
    unknown = sorted(set(fields) - EDITABLE_FIELDS)
    if unknown:
        raise DatabaseError(f"an instrument definition has no changeable field(s) {unknown}")
    if "instrument_type" in fields and fields["instrument_type"] not in INSTRUMENT_TYPES:
        raise ValueError(
            f"instrument_type must be one of {INSTRUMENT_TYPES}, not {fields['instrument_type']!r}"
        )
    if "name" in fields and not (isinstance(fields["name"], str) and fields["name"].strip()):
        raise ValueError("a definition needs a name")
    return {
        key: json_copy(value, key) if key in _JSON_FIELDS and value is not None else value
        for key, value in fields.items()
    }


def json_copy(value: Any, what: str) -> Any:
    """A copy of ``value`` as JSON stores it (ValueError if it cannot be stored)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc


def _check_owner(
    session: Session, lab_id: int | None, author_id: int | None, is_builtin: bool
) -> None:
    """A builtin definition has no lab; a lab's has an author who writes in that lab."""
    if is_builtin:
        if lab_id is not None:
            raise DatabaseError("a builtin definition belongs to no lab")
        return
    if lab_id is None:
        raise DatabaseError("a definition that is not builtin belongs to a lab")
    _check_writer(session, lab_id, author_id)


def _check_writer(session: Session, lab_id: int, author_id: int | None) -> None:
    """Members write definitions; viewers and strangers do not."""
    role = None if author_id is None else member_role(session, lab_id, author_id)
    if role is None or not role.allows(Role.MEMBER):
        raise DefinitionPermissionError(
            f"user {author_id} may not write instrument definitions of lab {lab_id}"
        )


def _check_unique_name(session: Session, lab_id: int | None, name: str) -> None:
    """Names are unique within a lab, and among builtin definitions."""
    lab = (
        InstrumentDefinition.lab_id.is_(None)
        if lab_id is None
        else InstrumentDefinition.lab_id == lab_id
    )
    taken = session.scalar(
        select(InstrumentDefinition.id).where(lab, InstrumentDefinition.name == name)
    )
    if taken is not None:
        raise DuplicateError(f"an instrument definition named {name!r} exists already")
