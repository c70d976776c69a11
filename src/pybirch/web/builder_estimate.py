"""How many points a design in the builder takes, and about how long it will run.

The duration comes from the instruments' own timing settings where every instrument of the
scan declares one (``delay``: seconds per move or reading; a stage's ``speed``: units per
second of travel), else from the pace of the lab's last completed scan with the same
instruments. ``static/builder.js`` computes the same figures live while the user types;
this module gives them to a page rendered by the server (after an error, without script).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pybirch.database.services.scan_timings import ScanTiming
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.scan.design import MAX_AXES

#: Where an estimate came from.
FROM_SETTINGS = "settings"
FROM_HISTORY = "history"


@dataclass(frozen=True)
class PlannedAxis:
    """An axis as far as it is typed: its instrument, points, distance covered and snake."""

    instrument: str
    points: int | None
    span: float | None
    snake: bool


@dataclass(frozen=True)
class Estimate:
    """A design's size and expected duration (None where the form does not tell yet)."""

    points: int | None
    readings: int | None
    seconds: float | None
    source: str = ""
    #: The completed scan whose pace gave (or could give) the duration.
    history: ScanTiming | None = None

    @property
    def text(self) -> str:
        """The duration in words with where it came from."""
        if self.seconds is None:
            return "unknown: no delay settings and no earlier scan with these instruments"
        if self.source == FROM_SETTINGS:
            return f"≈ {duration_text(self.seconds)} (from the instruments' delay settings)"
        assert self.history is not None
        return (
            f"≈ {duration_text(self.seconds)} (at the pace of the last scan with these "
            f"instruments, {self.history.scan_name!r})"
        )


def planned_axes(values: Mapping[str, Any]) -> list[PlannedAxis]:
    """The axes of the form that have an instrument (None for what is not a number yet)."""
    axes = []
    for number in range(1, MAX_AXES + 1):
        prefix = f"axis{number}_"
        instrument = str(values.get(prefix + "instrument") or "").strip()
        if not instrument:
            continue
        points = _whole(values.get(prefix + "points"))
        start, stop = _real(values.get(prefix + "start")), _real(values.get(prefix + "stop"))
        span = None if start is None or stop is None else abs(stop - start)
        snake = values.get(prefix + "snake") in ("on", "1", "true")
        axes.append(PlannedAxis(instrument, points, span, snake))
    return axes


def point_count(axes: list[PlannedAxis]) -> int | None:
    """Positions the scan visits (the product over its axes), or None if a count is missing."""
    if not axes or any(axis.points is None or axis.points < 1 for axis in axes):
        return None
    return math.prod(axis.points for axis in axes)  # type: ignore[misc]


def estimate(
    values: Mapping[str, Any],
    measurements: list[str],
    catalogue: list[InstrumentInfo],
    timings: list[ScanTiming],
) -> Estimate:
    """Points, readings and duration of the design typed in the form ``values``."""
    axes = planned_axes(values)
    points = point_count(axes)
    if points is None:
        return Estimate(None, None, None)
    readings = points * len(measurements)
    used = frozenset([axis.instrument for axis in axes] + measurements)
    history = next((t for t in timings if t.instruments == used), None) if measurements else None
    settings = {info.name: {**info.settings, **_overrides(values, info.name)} for info in catalogue}
    seconds = settings_seconds(axes, measurements, settings)
    if seconds is not None:
        return Estimate(points, readings, seconds, FROM_SETTINGS, history)
    if history is not None:
        return Estimate(
            points, readings, history.seconds_per_reading * readings, FROM_HISTORY, history
        )
    return Estimate(points, readings, None)


def settings_seconds(
    axes: list[PlannedAxis], measurements: list[str], settings: Mapping[str, Mapping[str, Any]]
) -> float | None:
    """Seconds the delays (and stage speeds) add up to, or None if an instrument has no delay."""
    total, visits = 0.0, 1
    for axis in axes:
        own = settings.get(axis.instrument, {})
        delay = _seconds(own.get("delay"))
        if delay is None or axis.points is None:
            return None
        passes, visits = visits, visits * axis.points
        total += visits * delay
        speed = _seconds(own.get("speed"))
        if speed and axis.span:
            # one sweep per pass of the outer axes, and a way back between sweeps unless snaking
            returns = 0 if axis.snake else passes - 1
            total += (passes + returns) * axis.span / speed
    if not measurements:
        return None
    for name in measurements:
        delay = _seconds(settings.get(name, {}).get("delay"))
        if delay is None:
            return None
        total += visits * delay
    return total


def duration_text(seconds: float) -> str:
    """``0.4 s``, ``45 s``, ``2 min 5 s``, ``3 h 20 min``, ``2 d 4 h``."""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds >= 0.01 else "under 0.01 s"
    whole = round(seconds)
    for big, small, name, small_name in (
        (86_400, 3_600, "d", "h"),
        (3_600, 60, "h", "min"),
        (60, 1, "min", "s"),
    ):
        if whole >= big:
            rest = (whole % big) // small
            return f"{whole // big} {name}" + (f" {rest} {small_name}" if rest else "")
    return f"{whole} s"


def _overrides(values: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        typed = json.loads(str(values.get(f"settings_{name}") or "{}"))
    except (ValueError, RecursionError):
        return {}
    return typed if isinstance(typed, dict) else {}


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _whole(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def _real(text: Any) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
