"""Instrument code and the computers that run it: computer identity, bindings, discovery.

This package sits above :mod:`pybirch.database` and below the entry points: it imports
nothing from :mod:`pybirch.web`, :mod:`pybirch.agent` or :mod:`pybirch.cli`.
"""

from pybirch.definitions.computer_info import get_computer_info
from pybirch.definitions.factory import DefinitionError, InstrumentFactory

__all__ = ["DefinitionError", "InstrumentFactory", "get_computer_info"]
