"""Instrument classes by import path, so serialized instruments can be rebuilt safely.

Every subclass of :class:`~pybirch.instruments.base.Instrument` registers itself when its
class statement runs. Rebuilding an instrument from JSON looks the class up here; a path
that is not registered is imported only if it lies inside the ``pybirch`` package, so a
scan file cannot make PyBirch import arbitrary modules.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from typing import TYPE_CHECKING, Any

from pybirch.instruments.errors import InstrumentError

if TYPE_CHECKING:
    from pybirch.instruments.base import Instrument

_classes: dict[str, type[Instrument]] = {}
# Driver files are loaded (and their classes registered or withdrawn) while other threads may
# list the registry; the lock keeps each of those steps whole.
_classes_lock = threading.Lock()


class UnknownInstrumentClassError(InstrumentError, LookupError):
    """A serialized instrument names a class that is not registered."""


def instrument_class_path(cls: type) -> str:
    """The ``module:QualName`` import path a class is registered and serialized under."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_instrument_class(cls: type[Instrument]) -> None:
    """Make ``cls`` resolvable by its ``module:QualName`` path."""
    with _classes_lock:
        _classes[instrument_class_path(cls)] = cls


def registered_instrument_classes() -> list[type[Instrument]]:
    """Every registered instrument class, abstract ones included, by import path."""
    with _classes_lock:
        return [_classes[path] for path in sorted(_classes)]


def unregister_module(module: str) -> list[str]:
    """Withdraw every class registered from ``module``; return their import paths."""
    with _classes_lock:
        paths = [path for path in _classes if path.partition(":")[0] == module]
        for path in paths:
            del _classes[path]
    return paths


def resolve_instrument_class(path: str) -> type[Instrument]:
    """The instrument class registered under ``module:QualName``."""
    cls = _classes.get(path)
    if cls is not None:
        return cls
    module = path.partition(":")[0]
    if module == "pybirch" or module.startswith("pybirch."):
        importlib.import_module(module)
        cls = _classes.get(path)
        if cls is not None:
            return cls
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
