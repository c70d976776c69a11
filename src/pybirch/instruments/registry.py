"""Instrument classes by import path, so serialized instruments can be rebuilt safely.

Every subclass of :class:`~pybirch.instruments.base.Instrument` registers itself when its
class statement runs. Rebuilding an instrument from JSON looks the class up here; a path
that is not registered is imported only if it lies inside the ``pybirch`` package, so a
scan file cannot make PyBirch import arbitrary modules.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from pybirch.instruments.errors import InstrumentError

if TYPE_CHECKING:
    from pybirch.instruments.base import Instrument

_classes: dict[str, type[Instrument]] = {}


class UnknownInstrumentClassError(InstrumentError, LookupError):
    """A serialized instrument names a class that is not registered."""


def register_instrument_class(cls: type[Instrument]) -> None:
    """Make ``cls`` resolvable by its ``module:QualName`` path."""
    _classes[f"{cls.__module__}:{cls.__qualname__}"] = cls


def resolve_instrument_class(path: str) -> type[Instrument]:
    """The instrument class registered under ``module:QualName``."""
    if path in _classes:
        return _classes[path]
    module = path.partition(":")[0]
    if module == "pybirch" or module.startswith("pybirch."):
        importlib.import_module(module)
        if path in _classes:
            return _classes[path]
    raise UnknownInstrumentClassError(
        f"instrument class {path!r} is not registered; import the module that defines it "
        f"before loading the scan"
    )


def instrument_from_dict(data: dict[str, Any]) -> Instrument:
    """Rebuild an instrument from :meth:`Instrument.serialize` output."""
    cls = resolve_instrument_class(data["class"])
    kwargs: dict[str, Any] = {}
    parameters = inspect.signature(cls).parameters
    if "name" in parameters:
        kwargs["name"] = data["name"]
    adapter = data.get("adapter") or ""
    if adapter and "adapter" in parameters:
        kwargs["adapter"] = adapter
    try:
        instrument = cls(**kwargs)
    except TypeError as exc:
        raise InstrumentError(
            f"cannot rebuild {data['name']!r}: {data['class']} needs constructor arguments "
            f"beyond name and adapter ({exc})"
        ) from exc
    instrument.name = data["name"]
    if adapter and instrument.adapter != adapter:
        instrument.adapter = adapter
    for key in ("position_column", "position_units"):
        if key in data:
            setattr(instrument, key, data[key])
    if data.get("limits") is not None:
        instrument.limits = tuple(data["limits"])  # type: ignore[attr-defined]
    if data.get("settings"):
        instrument.settings = data["settings"]
    return instrument
