"""What to measure: a tree of movements (nested loops) and measurements (readings).

::

    ScanTree([
        MovementItem(stage_y, positions=np.linspace(0, 1, 21), children=[
            MovementItem(stage_x, positions=np.linspace(0, 1, 41), snake=True, children=[
                MeasurementItem(lockin),
            ]),
        ]),
    ])

At each position of a movement its children run in order; an N x M grid gives exactly
N x M points per measurement, first and last positions included. Sibling measurements
run side by side unless they share an adapter. A snaking movement reverses its positions
on every other pass of its parent, so a raster does not fly back.

An evenly spaced axis given as ``Linspace(start, stop, count)`` is never held whole: the
engine computes its positions a block at a time, so 10^8 of them cost nothing up front.
In :meth:`ScanTree.to_dict` such an axis, or an array exactly ``np.linspace(start, stop,
count)``, is written ``{"start": ..., "stop": ..., "count": ...}``; any other as a list of numbers
(or, on request, as the float64 array itself, for binary storage). Either way it reads
back bit for bit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pybirch.instruments.base import Instrument, Measurement, Movement
from pybirch.instruments.errors import InstrumentError
from pybirch.instruments.registry import instrument_from_dict
from pybirch.scan.axis import BLOCK, Linspace, linspace_values
from pybirch.scan.errors import ScanDefinitionError

log = logging.getLogger(__name__)

#: How a movement's positions appear in a tree description.
PositionsDescription = dict[str, Any] | list[float] | np.ndarray

#: A movement's positions once its item is built.
Positions = np.ndarray | Linspace


@dataclass(eq=False)
class MeasurementItem:
    """Read ``instrument`` once at every position of its parent movement."""

    instrument: Measurement
    settings: dict[str, Any] = field(default_factory=dict)
    #: Name of this measurement's data; defaults to the instrument's name.
    name: str | None = None

    @property
    def measurement_name(self) -> str:
        """The name the measurement's data is saved under."""
        return self.name or self.instrument.name


@dataclass(eq=False)
class MovementItem:
    """Move ``instrument`` through ``positions``; run ``children`` at each one."""

    instrument: Movement
    #: A :class:`Linspace` stays lazy (never held whole); anything else becomes an array.
    positions: Sequence[float] | np.ndarray | Linspace
    settings: dict[str, Any] = field(default_factory=dict)
    children: list[Item] = field(default_factory=list)
    #: Reverse the positions on every other pass of the parent loop.
    snake: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.positions, Linspace):
            return
        try:
            self.positions = np.array(self.positions, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ScanDefinitionError(
                f"positions of {self.instrument.name!r} are not numbers: {exc}"
            ) from exc


Item = MovementItem | MeasurementItem


@dataclass(frozen=True)
class MeasurementPlan:
    """One measurement as the engine sees it: its item and the movements above it."""

    item: MeasurementItem
    ancestors: tuple[MovementItem, ...]

    @property
    def name(self) -> str:
        """The measurement's name."""
        return self.item.measurement_name

    @property
    def data_columns(self) -> list[str]:
        """The instrument's column labels, ``name (unit)``."""
        return self.item.instrument.columns()

    @property
    def position_columns(self) -> list[str]:
        """Position labels of the ancestor movements, outermost first.

        A commanded position whose label equals one of the measurement's own columns (a
        source's ``current (A)`` above a meter that also reads ``current (A)``) is
        prefixed with its instrument's name, so neither column hides the other.
        """
        data = set(self.data_columns)
        labels = []
        for ancestor in self.ancestors:
            label = ancestor.instrument.position_label()
            labels.append(f"{ancestor.instrument.name} {label}" if label in data else label)
        return labels

    @property
    def total_points(self) -> int:
        """How many times the measurement is taken in a full scan."""
        return math.prod(len(a.positions) for a in self.ancestors)


class ScanTree:
    """The movements and measurements of a scan, validated before anything moves."""

    def __init__(self, items: Sequence[Item] | None = None) -> None:
        self.items: list[Item] = list(items or [])

    def __repr__(self) -> str:
        return f"ScanTree({self.items!r})"

    def walk(self) -> Iterator[tuple[Item, tuple[MovementItem, ...]]]:
        """Every item with its ancestor movements, depth first in execution order."""

        def visit(items: Sequence[Item], ancestors: tuple[MovementItem, ...]) -> Iterator[Any]:
            for item in items:
                yield item, ancestors
                if isinstance(item, MovementItem):
                    yield from visit(item.children, (*ancestors, item))

        yield from visit(self.items, ())

    def measurements(self) -> list[MeasurementPlan]:
        """Every measurement with its ancestors, in execution order."""
        return [
            MeasurementPlan(item, ancestors)
            for item, ancestors in self.walk()
            if isinstance(item, MeasurementItem)
        ]

    def instruments(self) -> list[Instrument]:
        """Each instrument of the tree once, in the order they first appear."""
        seen: dict[int, Instrument] = {}
        for item, _ in self.walk():
            seen.setdefault(id(item.instrument), item.instrument)
        return list(seen.values())

    def total_points(self) -> int:
        """Points the whole scan takes, summed over its measurements."""
        return sum(plan.total_points for plan in self.measurements())

    def validate(self) -> None:
        """Raise :class:`ScanDefinitionError` for anything that cannot run as written.

        An empty tree is valid: the scan records its settings and completes with no points
        (the seed's quick-start runs one like this).
        """
        if not self.items:
            log.warning("the scan tree is empty: the scan completes without taking a point")
            return
        if not self.measurements():
            raise ScanDefinitionError("the scan tree has no measurement")
        names: dict[str, Instrument] = {}
        measurement_names: set[str] = set()
        for item, ancestors in self.walk():
            _check_item(item, ancestors)
            instrument = item.instrument
            if names.setdefault(instrument.name, instrument) is not instrument:
                raise ScanDefinitionError(
                    f"two different instruments are both named {instrument.name!r}"
                )
            if isinstance(item, MeasurementItem):
                if item.measurement_name in measurement_names:
                    raise ScanDefinitionError(
                        f"two measurements are named {item.measurement_name!r}; "
                        f"give one MeasurementItem a distinct name="
                    )
                measurement_names.add(item.measurement_name)

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """A JSON-able description: instruments by name and the item tree, positions included.

        ``arrays=True`` leaves positions that are not a linspace as float64 arrays instead
        of lists, for a store that keeps them as binary (the result is then not JSON-able).
        """
        return {
            "instruments": {i.name: i.serialize() for i in self.instruments()},
            "items": [_item_to_dict(item, arrays) for item in self.items],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanTree:
        """Rebuild a tree (and its instruments) from :meth:`to_dict` output."""
        try:
            instruments = {
                name: instrument_from_dict(desc) for name, desc in data["instruments"].items()
            }
            return cls([_item_from_dict(d, instruments) for d in data["items"]])
        except KeyError as exc:
            raise ScanDefinitionError(f"scan tree description lacks {exc}") from exc


def _check_item(item: Item, ancestors: tuple[MovementItem, ...]) -> None:
    instrument = item.instrument
    if isinstance(item, MeasurementItem):
        if not isinstance(instrument, Measurement):
            raise ScanDefinitionError(f"{instrument!r} is not a Measurement")
        columns, units = list(instrument.data_columns), list(instrument.data_units)
        if not columns or len(columns) != len(units):
            raise ScanDefinitionError(
                f"{instrument.name!r} declares {len(columns)} data columns and "
                f"{len(units)} units; it needs at least one column and a unit for each"
            )
    elif isinstance(item, MovementItem):
        _check_movement(item, ancestors)
    else:
        raise ScanDefinitionError(f"{item!r} is neither a MovementItem nor a MeasurementItem")
    _check_settings(item)


def _check_movement(item: MovementItem, ancestors: tuple[MovementItem, ...]) -> None:
    instrument = item.instrument
    if not isinstance(instrument, Movement):
        raise ScanDefinitionError(f"{instrument!r} is not a Movement")
    if len(item.positions) == 0:
        raise ScanDefinitionError(f"movement {instrument.name!r} has no positions")
    for low, block in position_blocks(item.positions):
        _check_block(instrument, low, block)
    if not item.children:
        raise ScanDefinitionError(f"movement {instrument.name!r} has nothing to measure")
    if any(a.instrument is instrument for a in ancestors):
        raise ScanDefinitionError(f"movement {instrument.name!r} is nested inside itself")
    labels = [a.instrument.position_label() for a in (*ancestors, item)]
    if len(set(labels)) != len(labels):
        raise ScanDefinitionError(
            f"two nested movements both write the column {instrument.position_label()!r}; "
            f"give one of them a different position_column"
        )


def _check_block(instrument: Movement, low: int, block: np.ndarray) -> None:
    """Positions ``low ..`` of a movement: finite and within the instrument's limits."""
    finite = np.isfinite(block)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise ScanDefinitionError(
            f"positions of {instrument.name!r} must be finite numbers: "
            f"position {low + index} is {block[index]:g}"
        )
    try:
        instrument.check_positions(block)
    except InstrumentError as exc:
        raise ScanDefinitionError(str(exc)) from exc


def position_blocks(positions: Positions) -> Iterator[tuple[int, np.ndarray]]:
    """The positions validation must see, a block at a time, each with the index of its first.

    An evenly spaced axis runs monotonically from its first position to its last (its values
    are ``i * step + start``), so its two ends and their neighbours stand for all of it: a
    step that overflows shows there as inf or NaN, and the ends are its extremes. Checking a
    10^9-point axis then costs no more than checking a 4-point one.
    """
    if isinstance(positions, Linspace) and len(positions) > 4:
        yield 0, positions[:2]
        yield len(positions) - 2, positions[-2:]
        return
    for low in range(0, len(positions), BLOCK):
        yield low, np.asarray(positions[low : low + BLOCK], dtype=float)


def _check_settings(item: Item) -> None:
    try:
        item.instrument._validate_settings(item.settings, partial=True)
    except InstrumentError as exc:
        raise ScanDefinitionError(str(exc)) from exc


def describe_positions(positions: Positions, arrays: bool = False) -> PositionsDescription:
    """A movement's positions for a tree description: compact if they are a linspace."""
    if isinstance(positions, Linspace) and not positions.descending:
        return _describe_linspace(positions)
    # A descending view is not the linspace of its ends: it is described as its array.
    positions = np.asarray(positions, dtype=float)
    count = len(positions)
    if count and _is_linspace(positions):
        return _describe_linspace(Linspace(positions[0], positions[-1], count))
    return np.array(positions, dtype=float) if arrays else positions.tolist()


def _describe_linspace(axis: Linspace) -> dict[str, Any]:
    return {"start": axis.start, "stop": axis.stop, "count": axis.count}


def read_positions(description: PositionsDescription) -> Positions:
    """The positions a :func:`describe_positions` result stands for (lazy if evenly spaced)."""
    if isinstance(description, dict):
        try:
            return Linspace(description["start"], description["stop"], description["count"])
        except KeyError as exc:
            raise ScanDefinitionError(f"positions {description!r} lack {exc}") from exc
    return np.asarray(description, dtype=float)


def _is_linspace(positions: np.ndarray) -> bool:
    """True if ``positions`` equal :func:`linspace` of their ends bit for bit."""
    start, stop, count = float(positions[0]), float(positions[-1]), len(positions)
    for low in range(0, count, BLOCK):
        high = min(count, low + BLOCK)
        indices = np.arange(low, high, dtype=np.int64)
        expected = linspace_values(start, stop, count, indices)
        # Bit patterns, not values: -0.0 and 0.0 differ, and the round trip must be exact.
        if expected.tobytes() != positions[low:high].tobytes():
            return False
    return True


def _item_to_dict(item: Item, arrays: bool) -> dict[str, Any]:
    if isinstance(item, MeasurementItem):
        return {
            "type": "measurement",
            "instrument": item.instrument.name,
            "name": item.name,
            "settings": item.settings,
        }
    return {
        "type": "movement",
        "instrument": item.instrument.name,
        "positions": describe_positions(item.positions, arrays),
        "snake": item.snake,
        "settings": item.settings,
        "children": [_item_to_dict(child, arrays) for child in item.children],
    }


def _item_from_dict(data: dict[str, Any], instruments: dict[str, Instrument]) -> Item:
    instrument = instruments[data["instrument"]]
    if data["type"] == "measurement":
        return MeasurementItem(
            instrument,  # type: ignore[arg-type]
            settings=data.get("settings") or {},
            name=data.get("name"),
        )
    if data["type"] == "movement":
        return MovementItem(
            instrument,  # type: ignore[arg-type]
            positions=read_positions(data["positions"]),
            settings=data.get("settings") or {},
            children=[_item_from_dict(child, instruments) for child in data["children"]],
            snake=bool(data.get("snake", False)),
        )
    raise ScanDefinitionError(f"unknown scan item type {data['type']!r}")
