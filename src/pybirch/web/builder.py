"""The scan builder's form: read into a :class:`~pybirch.scan.design.ScanDesign`, and back.

:func:`design_from_form` reads and checks what was typed, also against the computer's
instruments (limits, settings schemas) before the station is asked, every mistake by the name
of its field; :func:`design_for_builder` turns a stored design (a template's, a previous
scan's) into the values the form is filled with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import jsonschema
import referencing
import referencing.exceptions

from pybirch.configuration import current_config
from pybirch.database.models import Queue, Scan, ScanTemplate
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.scan.design import MAX_AXES, MAX_POINTS_PER_AXIS, Axis, DesignError, ScanDesign

#: The column each name typed in the form is stored in; a longer name is refused.
NAME_COLUMNS = {
    "scan_name": Scan.__table__.c.scan_name,
    "project_name": Scan.__table__.c.project_name,
    "new_queue": Queue.__table__.c.queue_id,
}

#: Deepest nesting of objects and lists accepted in an instrument's settings.
MAX_SETTINGS_DEPTH = 32

#: The key of a template's ``settings`` that holds a builder design (``ScanDesign.to_dict()``).
TEMPLATE_DESIGN_KEY = "design"

#: Longest template name (the column's length).
TEMPLATE_NAME_LENGTH = ScanTemplate.__table__.c.name.type.length

#: Schemas that refer outside themselves resolve nothing (an agent's schema is not trusted).
_NO_REFERENCES: referencing.Registry = referencing.Registry()


def max_scan_points() -> int:
    """The cap on a built scan's points, over all its readings: ``MAX_SCAN_POINTS``."""
    return current_config().max_scan_points


def design_from_form(
    form: Mapping[str, Any],
    measurements: list[str],
    catalogue: list[InstrumentInfo] | None = None,
) -> ScanDesign:
    """Read and check the form (names, ``axisN_*`` fields, ``settings_<name>`` JSON).

    With the computer's ``catalogue``, axes are also checked against their instrument's
    limits and settings against its settings and their schema (instruments it does not list
    are left to the station, which says so). Raises :class:`DesignError` naming every wrong
    field at once: ``scan_name``, ``axis2_stop``, ``measure``, ``settings_Lock-in``...
    (``scan`` for what belongs to no single field).
    """
    known = {info.name: info for info in catalogue or []}
    errors: dict[str, str] = {}
    for field, column in NAME_COLUMNS.items():
        length = len((form.get(field) or "").strip())
        if length > column.type.length:
            errors[field] = f"at most {column.type.length} characters (this one has {length})"
    name = (form.get("scan_name") or "").strip()
    if not name:
        errors["scan_name"] = "give the scan a name"
    axes = [a for n in range(1, MAX_AXES + 1) if (a := _axis(form, n, known, errors)) is not None]
    if not axes and not any(
        key.startswith("axis") and key.endswith("_instrument") for key in errors
    ):
        errors["axis1_instrument"] = "choose at least one axis"
    seen: set[str] = set()
    for number, axis in enumerate(axes, start=1):
        if axis.instrument in seen:
            errors[f"axis{number}_instrument"] = "each axis needs its own instrument"
        seen.add(axis.instrument)
    if not measurements:
        errors["measure"] = "choose at least one instrument to read"
    total = math.prod(axis.points for axis in axes) * len(measurements)
    if total > max_scan_points():
        errors["scan"] = (
            f"the scan would take {total:,} points; the most a scan may take is "
            f"{max_scan_points():,} (MAX_SCAN_POINTS)"
        )
    used = {axis.instrument for axis in axes} | set(measurements)
    settings = {}
    for key, text in form.items():
        instrument = key.removeprefix("settings_")
        # settings of an instrument the scan does not use are not part of it
        if key.startswith("settings_") and instrument in used and str(text).strip():
            try:
                settings[instrument] = _settings_json(instrument, str(text))
            except ValueError as exc:
                errors[key] = str(exc)
                continue
            if instrument in known and (
                problem := settings_problem(known[instrument], settings[instrument])
            ):
                errors[key] = problem
    if errors:
        raise DesignError(errors)
    return ScanDesign(name, (form.get("project_name") or "").strip(), axes, measurements, settings)


def _axis(
    form: Mapping[str, Any], number: int, known: dict[str, InstrumentInfo], errors: dict[str, str]
) -> Axis | None:
    """Axis ``number`` of the form, or None if it has no instrument or a wrong field."""
    prefix = f"axis{number}_"
    instrument = (form.get(prefix + "instrument") or "").strip()
    if not instrument:
        typed = [f for f in ("start", "stop", "points") if str(form.get(prefix + f) or "").strip()]
        if typed:
            errors[prefix + "instrument"] = f"axis {number} has a {typed[0]} but no instrument"
        return None
    values: dict[str, float] = {}
    for field in ("start", "stop"):
        try:
            values[field] = _number(form.get(prefix + field))
        except (TypeError, ValueError):
            errors[prefix + field] = f"{field} must be a number"
            continue
        if instrument in known and (problem := _beyond_limits(known[instrument], values[field])):
            errors[prefix + field] = problem
    try:
        points = int(str(form.get(prefix + "points") or "").strip())
    except ValueError:
        errors[prefix + "points"] = "points must be a whole number"
        return None
    if not 1 <= points <= MAX_POINTS_PER_AXIS:
        errors[prefix + "points"] = f"1 to {MAX_POINTS_PER_AXIS:,} points"
    if len(values) < 2 or prefix + "points" in errors:
        return None
    snake = form.get(prefix + "snake") in ("on", "1", "true")
    return Axis(instrument, values["start"], values["stop"], points, snake)


def _settings_json(instrument: str, text: str) -> dict[str, Any]:
    """One instrument's settings typed as JSON; ValueError saying what is wrong."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None  # deeper than Python's parser goes: refused just below
    except ValueError as exc:
        raise ValueError(f"settings of {instrument} are not JSON: {exc}") from None
    if value is None or _depth(value) > MAX_SETTINGS_DEPTH:
        raise ValueError(
            f"settings of {instrument} are nested more than {MAX_SETTINGS_DEPTH} levels deep"
        )
    if not isinstance(value, dict):
        raise ValueError(f"settings of {instrument} must be a JSON object")
    return value


def _beyond_limits(info: InstrumentInfo, value: float) -> str:
    """Why a movement cannot go to ``value`` ('' if it can, or its limits are unknown)."""
    if info.limits is None:
        return ""
    low, high = info.limits
    if low <= value <= high:
        return ""
    units = f" {info.position_units}" if info.position_units else ""
    return f"{value:g}{units} is outside the limits of {info.name} [{low:g}, {high:g}]{units}"


def settings_problem(info: InstrumentInfo, values: dict[str, Any]) -> str:
    """What is wrong with changing ``info``'s settings to ``values`` ('' if nothing)."""
    unknown = sorted(set(values) - set(info.settings))
    if unknown and info.settings:
        return (
            f"{info.name} has no setting {', '.join(map(repr, unknown))} "
            f"(it has {', '.join(info.settings)})"
        )
    if not info.settings_schema:
        return ""
    try:
        jsonschema.Draft202012Validator.check_schema(info.settings_schema)
        validator = jsonschema.Draft202012Validator(info.settings_schema, registry=_NO_REFERENCES)
        error = jsonschema.exceptions.best_match(validator.iter_errors({**info.settings, **values}))
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable):
        return ""  # a schema that cannot be used checks nothing here; the station checks
    if error is None:
        return ""
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where + ': ' if where else ''}{error.message}"


def design_for_builder(record: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The builder form's values for a stored design, as the form would have sent them.

    ``record`` is ``ScanDesign.to_dict()`` (``scan_name``, ``project_name``, ``axes`` of
    ``{instrument, start, stop, points, snake}``, ``measurements``, ``settings``), optionally
    with ``sample_id`` (the sample's database id). The answer maps field names to text:
    ``axisN_instrument/start/stop/points``, ``axisN_snake`` ("on", only when set),
    ``measure`` (a list of names), ``settings_<name>`` (JSON text), ``sample_id``.
    Raises :class:`DesignError` (field ``scan``) for a record that is not a design.
    """
    design = ScanDesign.from_dict(dict(record))
    if len(design.axes) > MAX_AXES:
        raise DesignError(
            {"scan": f"the design has {len(design.axes)} axes; the builder has {MAX_AXES}"}
        )
    values: dict[str, str | list[str]] = {
        "scan_name": design.scan_name,
        "project_name": design.project_name,
        "measure": list(design.measurements),
    }
    for number, axis in enumerate(design.axes, start=1):
        prefix = f"axis{number}_"
        values[prefix + "instrument"] = axis.instrument
        values[prefix + "start"] = number_text(axis.start)
        values[prefix + "stop"] = number_text(axis.stop)
        values[prefix + "points"] = str(int(axis.points))
        if axis.snake:
            values[prefix + "snake"] = "on"
    for name, settings in design.settings.items():
        if settings:
            values[f"settings_{name}"] = json.dumps(settings)
    sample = record.get("sample_id")
    if isinstance(sample, int) and not isinstance(sample, bool):
        values["sample_id"] = str(sample)
    return values


def template_record(design: ScanDesign) -> dict[str, Any]:
    """What a template's ``settings`` column holds for a design made in the builder."""
    return {TEMPLATE_DESIGN_KEY: design.to_dict()}


def template_design(template: ScanTemplate) -> dict[str, Any]:
    """The design stored in a template; DesignError if it holds none (made elsewhere)."""
    design = (template.settings or {}).get(TEMPLATE_DESIGN_KEY)
    if not isinstance(design, dict):
        raise DesignError({"scan": f"template {template.name!r} holds no design the builder reads"})
    return design


def number_text(value: float) -> str:
    """A number as a person types it: ``10``, ``0.25``, ``1e-06``."""
    return f"{value:.15g}"


def _number(text: Any) -> float:
    value = float(str(text).strip())
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


def field_label(key: str) -> str:
    """A form field's name as the page labels it: ``axis2_stop`` as ``Axis 2 stop``."""
    if key.startswith("settings_"):
        return f"Settings of {key.removeprefix('settings_')}"
    if key.startswith("axis") and "_" in key:
        number, _, part = key.removeprefix("axis").partition("_")
        return f"Axis {number} {part}"
    return _LABELS.get(key, key.replace("_", " ").capitalize())


def field_id(key: str) -> str:
    """The HTML id of a form field, for the error summary's links (``f-axis2_stop``)."""
    return "f-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in key)


#: Labels of the fields whose name does not say it.
_LABELS = {
    "scan_name": "Name",
    "project_name": "Project",
    "sample_id": "Sample",
    "queue": "Queue",
    "new_queue": "New queue name",
    "measure": "Read at every point",
    "template_name": "Template name",
    "computer": "Computer",
    "scan": "Scan",
}
