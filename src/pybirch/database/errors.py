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


class DuplicateError(DatabaseError):
    """A row with the same unique name or id already exists."""


class DataIntegrityError(DatabaseError):
    """Measurement data that overlaps stored rows or does not fit its measurement."""


class StorageError(DatabaseError):
    """A stored chunk or spool record cannot be decoded."""
