"""Errors raised by the database layer."""

from __future__ import annotations

from pybirch.errors import PyBirchError


class DatabaseError(PyBirchError):
    """Something went wrong storing or reading PyBirch data."""


class DatabaseConfigError(DatabaseError):
    """The database URL or data directory cannot be used."""


class SchemaError(DatabaseError):
    """The database schema is missing, too old or newer than this PyBirch."""


class NotFoundError(DatabaseError, LookupError):
    """No row with the given id (or the caller may not see it)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class DatabaseUnreachableError(DatabaseError):
    """The database, or the server standing for it, cannot be reached now; try again later."""


class DuplicateError(DatabaseError):
    """A row with the same unique name or id already exists."""


class DataIntegrityError(DatabaseError):
    """Measurement data that overlaps stored rows or does not fit its measurement."""


class StorageError(DatabaseError):
    """A stored chunk or spool record cannot be decoded."""


class ComputerConflictError(DuplicateError):
    """A computer reported a machine id that another computer record of its lab holds."""

    def __init__(self, message: str, other_id: int) -> None:
        super().__init__(message)
        #: The record that already holds the machine id.
        self.other_id = other_id


class AmbiguousComputerError(DatabaseError, LookupError):
    """Several computers answer to a name; name the one meant by its id."""


class DefinitionPermissionError(DatabaseError, PermissionError):
    """The user or lab may not change this instrument definition."""


class ReadOnlyDefinitionError(DefinitionPermissionError):
    """A builtin definition, or another lab's public one: readable, never changed by a lab."""


class ApprovalDenied(DefinitionPermissionError):
    """Only a lab admin who is not the version's author may approve or reject it."""


class ReviewStateError(DatabaseError):
    """The version is not pending review (already approved, rejected or superseded)."""


class CodeIntegrityError(DataIntegrityError):
    """Stored code no longer matches the hash taken when it was written."""
