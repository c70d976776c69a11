"""Auto-discovery: the instruments bound to a computer, rebuilt as they were last used.

A binding names the instrument's driver class, the adapter it was reached through, the
options its driver was made with and the settings it last ran with
(:meth:`DatabaseService.get_computer_bindings`). Each is rebuilt, given those settings and
connected; one that cannot be is reported with why and the others load still. Simulated
instruments of one computer share one simulated device, so a stage moves what the
lock-in sees.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pybirch.database import DatabaseService
from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.instruments.registry import resolve_instrument_class
from pybirch.instruments.simulated import SimulatedSample

log = logging.getLogger(__name__)


class BindingLoadError(PyBirchError):
    """A bound instrument could not be rebuilt or connected; the message says which and why."""


@dataclass
class LoadedInstruments:
    """What a computer's bindings gave: each binding's instrument, or why it has none."""

    instruments: list[tuple[dict[str, Any], Instrument]] = field(default_factory=list)
    failures: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def load_bound_instruments(
    db: DatabaseService,
    computer_id: int,
    *,
    skip: Collection[int] = (),
    device: SimulatedSample | None = None,
) -> LoadedInstruments:
    """Rebuild, set up and connect the instruments bound to the computer ``computer_id``.

    Bindings whose id is in ``skip`` (loaded already) are left alone; simulated
    instruments share ``device`` (a new one if not given).
    """
    loaded = LoadedInstruments()
    device = device or SimulatedSample()
    for binding in db.get_computer_bindings(computer_id=computer_id):
        if binding["id"] in skip:
            continue
        name = binding["instrument"]["name"]
        try:
            instrument = instrument_from_binding(binding, device)
        except BindingLoadError as exc:
            log.warning("bound instrument %r not loaded: %s", name, exc)
            loaded.failures.append((binding, str(exc)))
            continue
        loaded.instruments.append((binding, instrument))
    return loaded


def instrument_from_binding(
    binding: dict[str, Any], device: SimulatedSample | None = None
) -> Instrument:
    """The instrument a binding describes, with its adapter and last settings, connected."""
    described = binding["instrument"]
    name = described["name"]
    path = _class_path(described.get("pybirch_class") or "")
    try:
        cls = resolve_instrument_class(path)
    except (PyBirchError, ImportError) as exc:
        raise BindingLoadError(f"{name}: no driver {path!r} on this computer ({exc})") from exc
    arguments = _constructor_arguments(cls, name, binding, device)
    try:
        instrument = cls(**arguments)
        if binding.get("last_settings"):
            instrument.settings = binding["last_settings"]
        instrument.connect_or_raise()
    except Exception as exc:  # a driver's own failure: reported for this instrument only
        raise BindingLoadError(f"{name}: {type(exc).__name__}: {exc}") from exc
    return instrument


def _class_path(stored: str) -> str:
    """``module:QualName`` from a stored path, which may be ``module.QualName``."""
    if ":" in stored:
        return stored
    module, _, qualname = stored.rpartition(".")
    return f"{module}:{qualname}"


def _constructor_arguments(
    cls: type[Instrument], name: str, binding: dict[str, Any], device: SimulatedSample | None
) -> dict[str, Any]:
    parameters = inspect.signature(cls).parameters
    options = dict(binding.get("options") or {})
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise BindingLoadError(
            f"{name}: {cls.__name__} takes no option {', '.join(map(repr, unknown))}"
        )
    arguments: dict[str, Any] = {**options, "name": name}
    if binding.get("adapter") and "adapter" in parameters:
        arguments["adapter"] = binding["adapter"]
    sample = parameters.get("sample")
    if device is not None and sample is not None and "SimulatedSample" in str(sample.annotation):
        arguments.setdefault("sample", device)
    return arguments
