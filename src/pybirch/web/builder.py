"""Reading the scan builder's form into a :class:`~pybirch.scan.design.ScanDesign`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pybirch.scan.design import MAX_AXES, MAX_POINTS_PER_AXIS, Axis, DesignError, ScanDesign


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
        raise DesignError(errors)
    return ScanDesign(name, (form.get("project_name") or "").strip(), axes, measurements, settings)


def _number(text: Any) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value
