"""Instrument code and the computers that run it: validation, the library, computer identity.

This package sits above :mod:`pybirch.database` and below the entry points: it imports
nothing from :mod:`pybirch.web`, :mod:`pybirch.agent` or :mod:`pybirch.cli`.
"""

from pybirch.definitions.computer_info import get_computer_info
from pybirch.definitions.factory import DefinitionError, InstrumentFactory
from pybirch.definitions.library import DefinitionLibrary, InvalidDefinitionError
from pybirch.definitions.validation import Problem, ValidationReport, validate_definition

__all__ = [
    "DefinitionError",
    "DefinitionLibrary",
    "InstrumentFactory",
    "InvalidDefinitionError",
    "Problem",
    "ValidationReport",
    "get_computer_info",
    "validate_definition",
]
