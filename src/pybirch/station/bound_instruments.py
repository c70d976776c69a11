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
from pybirch.definitions.factory import DefinitionError, InstrumentFactory
from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.instruments.simulated import SimulatedSample

log = logging.getLogger(__name__)


#: Why the web server's own station does not load a stored definition.
STORED_CODE_ELSEWHERE = (
    "{definition} is a driver stored in the database: stored drivers run on lab computers "
    "(pybirch agent), never inside the web server; bind the instrument to a lab computer, "
    "or use an installed driver or a driver file here"
)


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
    stored_code: bool = True,
) -> LoadedInstruments:
    """Rebuild, set up and connect the instruments bound to the computer ``computer_id``.

    Bindings whose id is in ``skip`` (loaded already) are left alone; simulated
    instruments share ``device`` (a new one if not given). Without ``stored_code``
    (the web server's own station) stored definitions are refused.
    """
    loaded = LoadedInstruments()
    device = device or SimulatedSample()
    for binding in db.get_computer_bindings(computer_id=computer_id):
        if binding["id"] in skip:
            continue
        name = binding["instrument"]["name"]
        try:
            instrument = instrument_from_binding(binding, device, stored_code=stored_code)
        except BindingLoadError as exc:
            log.warning("bound instrument %r not loaded: %s", name, exc)
            loaded.failures.append((binding, str(exc)))
            continue
        loaded.instruments.append((binding, instrument))
    return loaded


def instrument_from_binding(
    binding: dict[str, Any], device: SimulatedSample | None = None, *, stored_code: bool = True
) -> Instrument:
    """The instrument a binding describes, with its adapter and last settings, connected.

    Without ``stored_code`` a stored definition is refused (the web server never runs
    stored code).
    """
    name = binding["instrument"]["name"]
    definition = binding["instrument"].get("definition") or {}
    if definition.get("source_code") and not stored_code:
        raise BindingLoadError(STORED_CODE_ELSEWHERE.format(definition=definition.get("name")))
    try:
        driver = InstrumentFactory.create_class_from_definition(definition)
        options = dict(binding.get("options") or {})
        if device is not None and _takes_simulated_sample(driver):
            options.setdefault("sample", device)
        instrument = InstrumentFactory.create_instance(
            definition, binding.get("adapter"), name=name, **options
        )
    except DefinitionError as exc:
        raise BindingLoadError(str(exc)) from exc
    except Exception as exc:  # a driver's own failure: reported for this instrument only
        raise BindingLoadError(f"{type(exc).__name__}: {exc}") from exc
    try:
        _restore_settings(instrument, binding.get("last_settings") or {})
        instrument.connect_or_raise()
    except Exception as exc:  # a driver's own failure: reported for this instrument only
        raise BindingLoadError(f"{type(exc).__name__}: {exc}") from exc
    return instrument


def _restore_settings(instrument: Instrument, last: dict[str, Any]) -> None:
    """Give the instrument the settings it last ran with that its driver still knows.

    A binding may have last run another driver (before a stored definition replaced it):
    settings the new driver does not have are left out, and the log says which.
    """
    known = set(instrument.settings)
    unknown = sorted(set(last) - known)
    if unknown:
        log.warning(
            "%s: last settings %s are not settings of its driver %s; left out",
            instrument.name,
            ", ".join(unknown),
            type(instrument).__name__,
        )
    kept = {key: value for key, value in last.items() if key in known}
    if kept:
        instrument.settings = kept


def _takes_simulated_sample(driver: type[Instrument]) -> bool:
    sample = inspect.signature(driver).parameters.get("sample")
    return sample is not None and "SimulatedSample" in str(sample.annotation)
