"""The lab's library of stored drivers as users write them: validated before it is stored.

:class:`DefinitionLibrary` puts :func:`~pybirch.definitions.validation.validate_definition`
in front of the database's definition calls, so the web and the command line store only
code that validates (storage itself never imports the engine). Reading, diffs, rollbacks
and reviews need no validation and are made on the :class:`DatabaseService` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybirch.definitions.validation import ValidationReport, validate_definition
from pybirch.errors import PyBirchError

if TYPE_CHECKING:
    from pybirch.database import DatabaseService
    from pybirch.database.models import InstrumentDefinition

#: Fields of a definition that validation checks along with the code.
VALIDATED_FIELDS = (
    "instrument_type",
    "data_columns",
    "data_units",
    "settings_schema",
    "default_settings",
)


class InvalidDefinitionError(PyBirchError, ValueError):
    """The definition does not validate; ``report`` lists every problem with its place."""

    def __init__(self, report: ValidationReport) -> None:
        first = report.problems[0]
        where = f" (line {first.line})" if first.line is not None else ""
        more = len(report.problems) - 1
        super().__init__(
            f"{first.message}{where}" + (f", and {more} more problem(s)" if more else "")
        )
        self.report = report


class DefinitionLibrary:
    """Create and edit stored drivers of a database, refusing code that does not validate."""

    def __init__(self, db: DatabaseService) -> None:
        self.db = db

    def validate(self, source_code: str, **fields: Any) -> ValidationReport:
        """Validate unsaved code with the given fields (``instrument_type``, columns, ...)."""
        return validate_definition(source_code, **_validated(fields))

    def validate_stored(
        self, definition_id: int, *, lab_id: int | None, version: int | None = None
    ) -> ValidationReport:
        """Validate a stored version (the latest by default) with the definition's fields."""
        definition = self.db.get_instrument_definition(definition_id, lab_id=lab_id)
        stored = self.db.get_definition_version(
            definition_id, version or definition.version, lab_id=lab_id
        )
        return self.validate(stored.source_code, **_fields_of(definition))

    def create(
        self,
        lab_id: int,
        name: str,
        instrument_type: str,
        source_code: str,
        *,
        author_id: int,
        **fields: Any,
    ) -> InstrumentDefinition:
        """Store a new definition if it validates; its base class comes from the code."""
        report = self.validate(source_code, instrument_type=instrument_type, **fields)
        _require(report)
        fields["base_class"] = report.base_class
        return self.db.create_instrument_definition(
            lab_id, name, instrument_type, source_code, author_id=author_id, **fields
        )

    def update(
        self,
        definition_id: int,
        *,
        lab_id: int,
        author_id: int,
        source_code: str | None = None,
        change_summary: str | None = None,
        **fields: Any,
    ) -> InstrumentDefinition:
        """Change a definition if the result validates: the new code, or the latest, with the
        fields as they will be."""
        definition = self.db.get_instrument_definition(definition_id, lab_id=lab_id)
        if source_code is None:
            latest = self.db.get_definition_version(
                definition_id, definition.version, lab_id=lab_id
            )
            code = latest.source_code
        else:
            code = source_code
        report = self.validate(code, **{**_fields_of(definition), **fields})
        _require(report)
        if source_code is not None:
            fields["base_class"] = report.base_class
        return self.db.update_instrument_definition(
            definition_id,
            lab_id=lab_id,
            author_id=author_id,
            source_code=source_code,
            change_summary=change_summary,
            **fields,
        )


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields validation checks, out of all a definition has."""
    return {key: fields[key] for key in VALIDATED_FIELDS if key in fields}


def _fields_of(definition: InstrumentDefinition) -> dict[str, Any]:
    return {key: getattr(definition, key) for key in VALIDATED_FIELDS}


def _require(report: ValidationReport) -> None:
    if not report.ok:
        raise InvalidDefinitionError(report)
