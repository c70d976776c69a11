"""Why a stored definition gives no driver class or instrument.

::

    DefinitionError                     a definition cannot give a driver class or instrument
    ├── UnapprovedCodeError             its code is not the code a lab admin approved
    ├── DefinitionLoadError             its code failed to compile, load or instantiate
    │   └── DefinitionLimitError        ... by taking too long or using too much memory
    └── SandboxViolation                stored code reached for something it may not have
"""

from __future__ import annotations

from pybirch.errors import PyBirchError


class DefinitionError(PyBirchError):
    """A definition cannot give a driver class or an instrument; the message says why."""


class UnapprovedCodeError(DefinitionError):
    """The stored code's hash is not the approved one (changed behind PyBirch's back)."""


class DefinitionLoadError(DefinitionError):
    """Stored code failed while it was compiled, run as a module or instantiated."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        #: The line of the stored code the failure points at, if known.
        self.line = line


class DefinitionLimitError(DefinitionLoadError):
    """Loading stored code took longer or used more memory than allowed."""


class SandboxViolation(DefinitionError, AttributeError):
    """Stored code reached for a name, attribute or module that is not available to it.

    An :class:`AttributeError` too, so ``hasattr`` in stored code answers False for a
    refused attribute instead of failing.
    """
