"""A stored scan read back as the builder's design, so it can be run again or varied.

The builder makes a scan from a :class:`~pybirch.scan.design.ScanDesign` (axes nested
outermost first, the instruments read at the innermost one, settings by instrument); the
scan's definition stores the tree it became. :func:`design_of_scan` turns that tree back
into the design, and :func:`design_form_values` into the builder form's fields.
"""

from __future__ import annotations

import json
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.errors import NotFoundError
from pybirch.scan.design import MAX_AXES, Axis, DesignError, ScanDesign


def design_of_scan(db: DatabaseService, scan_id: str | int, lab_id: int) -> dict[str, Any]:
    """The builder design of a stored scan of ``lab_id``, as a dict.

    The dict is :meth:`ScanDesign.to_dict` (``scan_name``, ``project_name``, ``axes``: a
    list of ``{instrument, start, stop, points, snake}`` outermost first, ``measurements``:
    instrument names, ``settings``: ``{instrument: {...}}``) plus ``sample_id`` (the
    sample's database id, or None) and ``computer_name`` (where the scan ran, or None);
    ``ScanDesign.from_dict`` reads it.

    :raise NotFoundError: no such scan, or it belongs to another lab.
    :raise DesignError: the scan's tree is not one the builder makes (``errors["scan"]``
        says why: positions that are not evenly spaced, branches, more than MAX_AXES axes).
    """
    scan = db.get_scan(scan_id, with_settings=True)
    if scan.lab_id != lab_id:
        raise NotFoundError("Scan", scan_id)
    tree = scan.scan_tree_data
    if not tree.get("items"):
        raise DesignError({"scan": "the scan has no stored definition to build from"})
    axes, measurements, settings = _walk(tree["items"])
    design = ScanDesign(scan.scan_name, scan.project_name or "", axes, measurements, settings)
    return {**design.to_dict(), "sample_id": scan.sample_id, "computer_name": scan.computer_name}


def design_form_values(design: dict[str, Any]) -> dict[str, Any]:
    """The builder form's fields for a design dict: ``axisN_*``, ``measure``, ``settings_*``."""
    values: dict[str, Any] = {
        "scan_name": design["scan_name"],
        "project_name": design.get("project_name") or "",
        "measure": list(design["measurements"]),
    }
    if design.get("sample_id") is not None:
        values["sample_id"] = str(design["sample_id"])
    for number, axis in enumerate(design["axes"], start=1):
        prefix = f"axis{number}_"
        values[prefix + "instrument"] = axis["instrument"]
        values[prefix + "start"] = repr(float(axis["start"]))
        values[prefix + "stop"] = repr(float(axis["stop"]))
        values[prefix + "points"] = str(axis["points"])
        if axis.get("snake"):
            values[prefix + "snake"] = "on"
    for name, chosen in (design.get("settings") or {}).items():
        if chosen:
            values[f"settings_{name}"] = json.dumps(chosen)
    return values


def _walk(items: list[dict[str, Any]]) -> tuple[list[Axis], list[str], dict[str, dict]]:
    """Axes (outermost first), read instruments and settings of a builder-shaped tree."""
    axes: list[Axis] = []
    settings: dict[str, dict[str, Any]] = {}
    level = items
    while len(level) == 1 and level[0].get("type") == "movement":
        movement = level[0]
        axes.append(_axis(movement))
        if movement.get("settings"):
            settings[movement["instrument"]] = dict(movement["settings"])
        level = movement.get("children") or []
    if not axes:
        raise DesignError({"scan": "the builder needs at least one axis; this scan has none"})
    if len(axes) > MAX_AXES:
        raise DesignError({"scan": f"the builder makes at most {MAX_AXES} axes, not {len(axes)}"})
    if not level or any(item.get("type") != "measurement" for item in level):
        raise DesignError(
            {"scan": "the scan branches (several movements at one level): write it in Python"}
        )
    measurements = []
    for item in level:
        measurements.append(item["instrument"])
        if item.get("settings"):
            settings[item["instrument"]] = dict(item["settings"])
    return axes, measurements, settings


def _axis(movement: dict[str, Any]) -> Axis:
    positions = movement.get("positions")
    if not isinstance(positions, dict) or not {"start", "stop", "count"} <= positions.keys():
        raise DesignError(
            {
                "scan": f"the positions of {movement['instrument']!r} are not evenly spaced: "
                "the builder cannot make them"
            }
        )
    return Axis(
        movement["instrument"],
        float(positions["start"]),
        float(positions["stop"]),
        int(positions["count"]),
        bool(movement.get("snake", False)),
    )
