"""The driver classes this process can offer: PyBirch's own and those of loaded driver files."""

from __future__ import annotations

import inspect

from pybirch.instruments.base import Instrument
from pybirch.instruments.registry import instrument_class_path, registered_instrument_classes


def known_driver_classes() -> list[type[Instrument]]:
    """Concrete registered instrument classes, built-in drivers included, by import path.

    Driver files count once :func:`~pybirch.instruments.driver_files.load_driver_files`
    has loaded them. Abstract templates are left out (nobody can instantiate them), and so
    are classes defined inside functions: their import path names no module attribute, so
    no other process could rebuild an instrument of that class.
    """
    # Imported here, not at the top: ``pybirch.instruments`` does not load every driver at
    # start-up, and a catalogue must list them, so importing them makes them register.
    import pybirch.instruments.drivers
    import pybirch.instruments.simulated  # noqa: F401

    return [
        cls
        for cls in registered_instrument_classes()
        if not inspect.isabstract(cls) and "<locals>" not in cls.__qualname__
    ]


def driver_path(cls: type[Instrument]) -> str:
    """The ``module:QualName`` import path under which a driver class is found again."""
    return instrument_class_path(cls)
