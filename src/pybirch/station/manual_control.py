"""Manual control of one instrument, as a QCoDeS station user would from a notebook.

A lab member moves a stage to a position, reads a measurement once, or applies settings,
from the instrument's page; the station holding the instrument carries it out
(:meth:`Station.move`, :meth:`Station.measure_once`, :meth:`Station.apply_settings`).
What the request names and what comes back are plain data here, so they cross the link
to a lab computer's agent as they are.

A request the station will not carry out (a scan holds the instrument, the position is
outside its limits, the instrument is not loaded there) is a
:class:`~pybirch.station.StationError`; an instrument that fails while doing it is an
:class:`InstrumentActionError`: the message says which, and the page shows it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np

from pybirch.errors import PyBirchError

#: Seconds a manual action may take before the station stops waiting for it.
MANUAL_TIMEOUT = 30.0
#: Most values one reading may hold to be shown on a page (a spectrum is a few thousand).
MAX_READING_VALUES = 1_000_000

T = TypeVar("T")


class InstrumentActionError(PyBirchError):
    """The instrument failed (or did not finish) a manual action; the message says how."""


@dataclass(frozen=True)
class ManualTarget:
    """The instrument a manual action is for: its binding to the computer, name and lab.

    The station finds it by the binding it loaded it from; an instrument offered to a
    one-lab station in Python has no loaded binding, and is found by name there.
    """

    binding_id: int
    name: str
    lab_id: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ManualTarget:
        """Read :meth:`to_dict` output (KeyError, TypeError or ValueError if it is not one)."""
        if not isinstance(data, dict):
            raise TypeError("the instrument must be an object")
        return cls(int(data["binding_id"]), str(data["name"]), int(data["lab_id"]))


@dataclass(frozen=True)
class Moved:
    """Where a movement instrument is after a manual move, in its units."""

    position: float
    units: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Moved:
        """Read :meth:`to_dict` output."""
        return cls(float(data["position"]), str(data.get("units") or ""))


@dataclass(frozen=True)
class Reading:
    """One reading of a measurement instrument: its columns, their units, and the rows."""

    columns: list[str]
    units: list[str]
    rows: list[list[float | None]] = field(default_factory=list)

    @classmethod
    def of(cls, columns: list[str], units: list[str], values: Any) -> Reading:
        """A reading from what ``perform_measurement()`` returned (NaN and infinities as None)."""
        array = np.atleast_2d(np.asarray(values, dtype=float))
        if array.ndim != 2:
            raise InstrumentActionError(f"the reading has {array.ndim} dimensions, not 2")
        if array.size > MAX_READING_VALUES:
            raise InstrumentActionError(
                f"the reading holds {array.size:,} values, more than a page shows "
                f"({MAX_READING_VALUES:,}); run a scan to keep it"
            )
        rows = [[v if math.isfinite(v) else None for v in row] for row in array.tolist()]
        return cls(list(columns), list(units), rows)

    @property
    def is_array(self) -> bool:
        """Whether the reading is more than one row (a spectrum, a trace): shown as a plot."""
        return len(self.rows) > 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reading:
        """Read :meth:`to_dict` output."""
        return cls(
            [str(c) for c in data["columns"]],
            [str(u) for u in data["units"]],
            [[None if v is None else float(v) for v in row] for row in data["rows"]],
        )


@dataclass(frozen=True)
class SettingsApplied:
    """The settings an instrument has after a manual change (all of them, as written back)."""

    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SettingsApplied:
        """Read :meth:`to_dict` output."""
        settings = data["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings must be an object")
        return cls(dict(settings))


def within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """``call()``, or :class:`InstrumentActionError` if it has not returned after ``seconds``.

    The call runs in a thread of its own, so a driver that never answers cannot hold the
    caller (a browser's request) forever; what it raises is raised here.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - raised again in the caller, below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"pybirch-manual-{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise InstrumentActionError(
            f"{what} did not finish within {seconds:g} s; the instrument may still be busy"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
