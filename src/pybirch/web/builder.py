"""Reading the scan builder's form into a :class:`~pybirch.scan.design.ScanDesign`."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from pybirch.database.models import Queue, Scan
from pybirch.scan.design import MAX_AXES, MAX_POINTS_PER_AXIS, Axis, DesignError, ScanDesign

#: The column each name typed in the form is stored in; a longer name is refused.
NAME_COLUMNS = {
    "scan_name": Scan.__table__.c.scan_name,
    "project_name": Scan.__table__.c.project_name,
    "new_queue": Queue.__table__.c.queue_id,
}

#: Most points a scan built in the browser may take, over all its readings.
DEFAULT_MAX_SCAN_POINTS = 100_000_000


#: Deepest nesting of objects and lists accepted in an instrument's settings.
MAX_SETTINGS_DEPTH = 32


def max_scan_points() -> int:
    """The cap on a built scan's points: ``MAX_SCAN_POINTS``, else the default."""
    return int(os.environ.get("MAX_SCAN_POINTS") or DEFAULT_MAX_SCAN_POINTS)


def design_from_form(form: Mapping[str, Any], measurements: list[str]) -> ScanDesign:
    """Read and check the form (names, ``axisN_*`` fields, ``settings_<name>`` JSON)."""
    errors: dict[str, str] = {}
    for field, column in NAME_COLUMNS.items():
        length = len((form.get(field) or "").strip())
        if length > column.type.length:
            errors[field] = f"at most {column.type.length} characters (this one has {length})"
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
    total = math.prod(axis.points for axis in axes) * len(measurements)
    if total > max_scan_points():
        errors["scan"] = (
            f"the scan would take {total:,} points; the most a scan may take is "
            f"{max_scan_points():,} (MAX_SCAN_POINTS)"
        )
    settings = {}
    for key, text in form.items():
        if key.startswith("settings_") and str(text).strip():
            instrument = key.removeprefix("settings_")
            try:
                value = json.loads(text)
            except ValueError as exc:
                errors[key] = f"settings of {instrument} are not JSON: {exc}"
                continue
            except RecursionError:
                value = None  # deeper than Python's parser goes: refused just below
            if value is None or _depth(value) > MAX_SETTINGS_DEPTH:
                errors[key] = (
                    f"settings of {instrument} are nested more than "
                    f"{MAX_SETTINGS_DEPTH} levels deep"
                )
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


def _depth(value: Any) -> int:
    """How deeply objects and lists nest in a parsed JSON value (iterative: no recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest
