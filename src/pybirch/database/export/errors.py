"""Errors raised when a scan cannot be exported."""

from __future__ import annotations

from pybirch.database.errors import DatabaseError, NotFoundError


class ExportError(DatabaseError):
    """A scan cannot be exported as asked: unknown format, unwritable path, nothing to export."""


class ExportNotFoundError(ExportError, NotFoundError):
    """The scan or measurement to export does not exist."""
