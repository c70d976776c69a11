"""Turning the scan builder's form into a scan: axes, measurements, settings, validated."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pybirch.errors import PyBirchError
from pybirch.scan import MeasurementItem, MovementItem, ScanSettings, ScanTree
from pybirch.web.runtime import LocalInstruments

#: Most axes and points the builder makes (bigger scans are written in Python).
MAX_AXES = 3
MAX_POINTS_PER_AXIS = 100_000


class BuilderError(PyBirchError):
    """The form does not describe a scan that can run; ``errors`` says what, by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


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


def design_from_form(form: Mapping[str, Any], measurements: list[str]) -> ScanDesign:
    """Read and check the form (``axisN_*`` fields, ``settings_<name>`` JSON)."""
    errors: dict[str, str] = {}
    name = (form.get("scan_name") or "").strip()
    if not name:
        errors["scan_name"] = "give the scan a name"
    axes = []
    for number in range(1, MAX_AXES + 1):
        prefix = f"axis{number}_"
        instrument = (form.get(prefix + "instrument") or "").strip()
        if not instrument:
            continue
        try:
            axis = Axis(
                instrument,
                _number(form.get(prefix + "start")),
                _number(form.get(prefix + "stop")),
                int(form.get(prefix + "points") or 0),
                form.get(prefix + "snake") in ("on", "1", "true"),
            )
        except ValueError:
            errors[prefix + "start"] = f"axis {number}: start, stop and points must be numbers"
            continue
        if not 1 <= axis.points <= MAX_POINTS_PER_AXIS:
            errors[prefix + "points"] = f"axis {number}: 1 to {MAX_POINTS_PER_AXIS:,} points"
        axes.append(axis)
    if not axes:
        errors["axis1_instrument"] = "choose at least one axis"
    if len({axis.instrument for axis in axes}) != len(axes):
        errors["axis1_instrument"] = "each axis needs its own instrument"
    if not measurements:
        errors["measure"] = "choose at least one instrument to read"
    settings = {}
    for key, text in form.items():
        if key.startswith("settings_") and str(text).strip():
            instrument = key.removeprefix("settings_")
            try:
                value = json.loads(text)
            except ValueError as exc:
                errors[key] = f"settings of {instrument} are not JSON: {exc}"
                continue
            if not isinstance(value, dict):
                errors[key] = f"settings of {instrument} must be a JSON object"
                continue
            settings[instrument] = value
    if errors:
        raise BuilderError(errors)
    return ScanDesign(name, (form.get("project_name") or "").strip(), axes, measurements, settings)


def build_settings(design: ScanDesign, instruments: LocalInstruments) -> ScanSettings:
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
        raise BuilderError(errors)
    tree = ScanTree(children)
    try:
        tree.validate()
    except PyBirchError as exc:
        raise BuilderError({"scan": str(exc)}) from exc
    return ScanSettings(
        design.project_name or "Unfiled",
        design.scan_name,
        design.scan_type,
        "Built in the browser",
        scan_tree=tree,
    )


def _number(text: Any) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value
