"""A scan described as data (axes, readings, settings), and the scan it becomes.

The scan builder fills a :class:`ScanDesign` from a form; whoever holds the instruments
(this process or a lab computer's agent) turns it into :class:`ScanSettings` with
:func:`build_settings`, and every mistake comes back as a :class:`DesignError` by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.scan.settings import ScanSettings
from pybirch.scan.tree import MeasurementItem, MovementItem, ScanTree

#: Most axes and points a design has (bigger scans are written in Python).
MAX_AXES = 3
MAX_POINTS_PER_AXIS = 100_000


class DesignError(PyBirchError):
    """The design does not describe a scan that can run; ``errors`` says what, by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class InstrumentLookup(Protocol):
    """Anything that finds an instrument by name."""

    def get(self, name: str) -> Instrument | None:
        """The instrument called ``name``, or None."""


@dataclass
class Axis:
    """One movement: an instrument swept from ``start`` to ``stop`` in ``points`` steps."""

    instrument: str
    start: float
    stop: float
    points: int
    snake: bool = False

    def positions(self) -> np.ndarray:
        """The positions, first and last included."""
        return np.linspace(self.start, self.stop, self.points)


@dataclass
class ScanDesign:
    """What the builder's form asks for."""

    scan_name: str
    project_name: str
    axes: list[Axis]
    measurements: list[str]
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def scan_type(self) -> str:
        """``1D Scan``, ``2D Scan``..."""
        return f"{len(self.axes)}D Scan"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanDesign:
        """Read a :meth:`to_dict` document; DesignError if it is not one."""
        try:
            return cls(
                scan_name=str(data["scan_name"]),
                project_name=str(data.get("project_name") or ""),
                axes=[Axis(**axis) for axis in data["axes"]],
                measurements=[str(name) for name in data["measurements"]],
                settings={str(k): dict(v) for k, v in (data.get("settings") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DesignError({"scan": f"not a scan design: {exc}"}) from exc


def build_settings(design: ScanDesign, instruments: InstrumentLookup) -> ScanSettings:
    """The :class:`ScanSettings` of a design; unknown instruments and bad values say so."""
    errors: dict[str, str] = {}

    def find(name: str, field_name: str) -> Any:
        instrument = instruments.get(name)
        if instrument is None:
            errors[field_name] = f"no instrument {name!r} here"
        return instrument

    readings = []
    for name in design.measurements:
        instrument = find(name, "measure")
        if instrument is not None:
            readings.append(MeasurementItem(instrument, dict(design.settings.get(name, {}))))
    children: list[Any] = readings
    for axis in reversed(design.axes):  # innermost axis first
        instrument = find(axis.instrument, "axis1_instrument")
        if instrument is None:
            continue
        item = MovementItem(
            instrument,
            axis.positions(),
            dict(design.settings.get(axis.instrument, {})),
            children=children,
            snake=axis.snake,
        )
        children = [item]
    if errors:
        raise DesignError(errors)
    tree = ScanTree(children)
    try:
        tree.validate()
    except PyBirchError as exc:
        raise DesignError({"scan": str(exc)}) from exc
    return ScanSettings(
        design.project_name or "Unfiled",
        design.scan_name,
        design.scan_type,
        "Built in the browser",
        scan_tree=tree,
    )
