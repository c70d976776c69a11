"""InstrumentFactory: driver classes and instruments from the definitions bindings name.

A definition is the dict :meth:`DatabaseService.get_computer_bindings` hands out with each
bound instrument. An installed driver's definition names its class (``pybirch_class``,
``module:QualName``), found through the instrument registry: PyBirch's own drivers, the
lab's driver files (:mod:`pybirch.instruments.driver_files`) and packages installed with a
``pybirch.drivers`` entry point. Every loader of bound instruments goes through this one
hook.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.instruments.registry import resolve_instrument_class


class DefinitionError(PyBirchError):
    """A definition cannot give a driver class or an instrument; the message says why."""


class InstrumentFactory:
    """Makes driver classes and instruments from definitions (the seed plan's name)."""

    @staticmethod
    def create_class_from_definition(definition: Mapping[str, Any]) -> type[Instrument]:
        """The driver class a definition describes."""
        name = definition.get("name") or "a definition"
        if definition.get("source_code"):
            raise DefinitionError(
                f"{name} (version {definition.get('version')}) is driver code stored in the "
                f"database; this PyBirch runs installed drivers and driver files only"
            )
        path = class_path(str(definition.get("pybirch_class") or ""))
        if path == ":":
            raise DefinitionError(f"{name} names no driver class")
        try:
            return resolve_instrument_class(path)
        except (PyBirchError, ImportError) as exc:
            raise DefinitionError(f"no driver {path!r} on this computer ({exc})") from exc

    @classmethod
    def create_instance(
        cls, definition: Mapping[str, Any], adapter: str | None = None, **kwargs: Any
    ) -> Instrument:
        """An instrument of the definition's class, on ``adapter`` if given (not connected).

        ``kwargs`` are constructor options (``name`` among them; the definition's name by
        default); an option the driver does not take is refused, naming it.
        """
        driver = cls.create_class_from_definition(definition)
        parameters = inspect.signature(driver).parameters
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown:
            raise DefinitionError(
                f"{driver.__name__} takes no option {', '.join(map(repr, unknown))}"
            )
        arguments = {"name": definition.get("name") or driver.__name__, **kwargs}
        if adapter and "adapter" in parameters:
            arguments["adapter"] = adapter
        instrument = driver(**arguments)
        if adapter and instrument.adapter != adapter:
            instrument.adapter = adapter
        return instrument


def class_path(stored: str) -> str:
    """``module:QualName`` from a stored class path, which may be ``module.QualName``."""
    if ":" in stored:
        return stored
    module, _, qualname = stored.rpartition(".")
    return f"{module}:{qualname}"
