"""Instrument code and the computers that run it: validation, the library, computer identity.

This package sits above :mod:`pybirch.database` and below the entry points: it imports
nothing from :mod:`pybirch.web`, :mod:`pybirch.agent` or :mod:`pybirch.cli`.

Names are imported on first use: the child process that test-loads stored code
(:mod:`.child_check`) needs the sandbox only, not the database layer behind
:func:`get_computer_info` (which costs it more than a second to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pybirch.definitions.computer_info import get_computer_info
    from pybirch.definitions.errors import (
        DefinitionError,
        DefinitionLimitError,
        DefinitionLoadError,
        SandboxViolation,
        UnapprovedCodeError,
    )
    from pybirch.definitions.factory import InstrumentFactory, code_hash
    from pybirch.definitions.library import DefinitionLibrary, InvalidDefinitionError
    from pybirch.definitions.validation import Problem, ValidationReport, validate_definition

_MODULES = {
    "get_computer_info": "computer_info",
    "DefinitionError": "errors",
    "DefinitionLimitError": "errors",
    "DefinitionLoadError": "errors",
    "SandboxViolation": "errors",
    "UnapprovedCodeError": "errors",
    "InstrumentFactory": "factory",
    "code_hash": "factory",
    "DefinitionLibrary": "library",
    "InvalidDefinitionError": "library",
    "Problem": "validation",
    "ValidationReport": "validation",
    "validate_definition": "validation",
}

__all__ = [
    "DefinitionError",
    "DefinitionLibrary",
    "DefinitionLimitError",
    "DefinitionLoadError",
    "InstrumentFactory",
    "InvalidDefinitionError",
    "Problem",
    "SandboxViolation",
    "UnapprovedCodeError",
    "ValidationReport",
    "code_hash",
    "get_computer_info",
    "validate_definition",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
