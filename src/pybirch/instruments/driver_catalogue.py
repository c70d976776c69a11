"""The driver classes this process can offer: PyBirch's own, installed packages', driver files'.

A package ships drivers for PyBirch by naming a module in the ``pybirch.drivers`` entry
point group (``[project.entry-points."pybirch.drivers"]`` in its ``pyproject.toml``);
:func:`load_installed_drivers` imports them so their classes register.
"""

from __future__ import annotations

import inspect
import logging
from importlib.metadata import entry_points

from pybirch.instruments.base import Instrument
from pybirch.instruments.registry import instrument_class_path, registered_instrument_classes

log = logging.getLogger(__name__)

#: The entry point group installed packages list their driver modules in.
DRIVER_ENTRY_POINTS = "pybirch.drivers"


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


def load_installed_drivers(group: str = DRIVER_ENTRY_POINTS) -> dict[str, str]:
    """Import the driver modules installed packages declare; returns failures by entry point.

    A package whose drivers fail to import is logged and reported, and the others load.
    """
    failures: dict[str, str] = {}
    for entry in entry_points(group=group):
        try:
            entry.load()
        except Exception as exc:  # a package's own failure: reported for that package only
            log.exception("the drivers of %s (%s) did not load", entry.name, entry.value)
            failures[entry.name] = f"{type(exc).__name__}: {exc}"
    return failures
