"""Exceptions raised while defining or running a scan."""

from __future__ import annotations

from pybirch.errors import PyBirchError


class ScanError(PyBirchError):
    """Base class of scan errors."""


class ScanDefinitionError(ScanError, ValueError):
    """The scan tree or its settings cannot be run as written (found before any move)."""


class ScanStateError(ScanError):
    """A control call that the scan's current state does not allow."""


class ExtensionError(ScanError):
    """An extension raised; ``extension`` and ``hook`` say which and where."""

    def __init__(self, extension: str, hook: str, cause: BaseException) -> None:
        super().__init__(f"extension {extension} failed in {hook}: {cause!r}")
        self.extension = extension
        self.hook = hook
        self.cause = cause
