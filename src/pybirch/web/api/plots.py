"""Plot data of a measurement, downsampled on the server.

A line (``y`` against a position or the point index), a heatmap for 2-D scans, and for a
reading of several rows per point (a spectrum) the rows of one point (``y`` against ``x``).
Every plot reads the measurement chunk by chunk, so a request holds about one chunk in
memory whether the scan has a thousand points or a billion.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from flask import Response, abort, jsonify, request
from flask_login import login_required

from pybirch.database import Layout, MeasurementData
from pybirch.database.models import MeasurementObject
from pybirch.database.storage.layout import POINT_INDEX
from pybirch.realtime.json_numbers import json_numbers
from pybirch.scan.tree import read_positions
from pybirch.web.api.limits import (
    DEFAULT_LINE_POINTS,
    MAX_LINE_POINTS,
    MIN_LINE_POINTS,
    PLOT_KINDS,
)
from pybirch.web.api.routes import blueprint, visible_measurement
from pybirch.web.api.serializers import scan_summary
from pybirch.web.auth.access import visible_scan
from pybirch.web.downsample import GridBlocks, LineBuckets, Window
from pybirch.web.listing import MAX_ROW, choice, optional_number, whole_number
from pybirch.web.services import database

#: Cells of a heatmap sent at most (``?max_cells=`` asks for fewer: the pixels drawn).
MAX_CELLS = 250_000
#: Fewest cells a heatmap may be asked for.
MIN_CELLS = 16
#: Maps whose axis positions are kept (see _cached_axis_positions).
AXES_KEPT = 16
_AXES: OrderedDict[tuple[int, int, int, tuple[str, ...]], tuple[np.ndarray, np.ndarray]] = (
    OrderedDict()
)
_AXES_LOCK = threading.Lock()
#: Scans a plot offers to overlay at most (the newest).
MAX_OVERLAYS = 50
#: Largest grid (positions of one axis, cells of both) a heatmap is drawn from: its
#: per-cell bookkeeping (one bit a cell) stays small.
MAX_AXIS_POSITIONS, MAX_GRID_CELLS = 65_536, 2**24

__all__ = ["blueprint"]


@blueprint.route("/v1/scans/<scan_id>/plot/<path:measurement_name>")
@login_required
def scan_plot(scan_id: str, measurement_name: str) -> Response:
    """``?y=`` against ``?x=`` as a line, or as a heatmap over a 2-D scan's two axes."""
    measurement = visible_measurement(scan_id, measurement_name)
    layout = Layout.from_json(measurement.columns)
    y = request.args.get("y") or layout.data_labels[0]
    if y not in layout.data_labels:
        abort(400, f"no data column {y!r}; there are {layout.data_labels}")
    positions = layout.position_labels
    rows_per_point = measurement.point_shape[0] if measurement.point_shape else 1
    kind = choice("kind", PLOT_KINDS) or _default_kind(len(positions), rows_per_point)
    if kind == "spectrum":
        if rows_per_point < 2:
            abort(400, "a spectrum needs readings of several rows per point")
        if not request.args.get("y"):  # a spectrum: the last column against the first
            y = layout.data_labels[-1]
        others = [label for label in layout.data_labels if label != y] or [y]
        x = request.args.get("x") or others[0]
        if x not in layout.data_labels:
            abort(400, f"no data column {x!r}")
        point = optional_number("point", 0, MAX_ROW)
        return jsonify(_spectrum(measurement.id, x, y, rows_per_point, point, positions))
    if kind == "grid":
        if len(positions) != 2:
            abort(400, "a heatmap needs a scan over exactly two axes")
        cells = whole_number("max_cells", MAX_CELLS, MIN_CELLS, MAX_CELLS)
        window = (_window("y_min", "y_max"), _window("x_min", "x_max"))
        return jsonify(_heatmap(measurement, y, positions, cells, window))
    x = request.args.get("x") or (positions[-1] if positions else POINT_INDEX)
    if x != POINT_INDEX and x not in layout.labels:
        abort(400, f"no column {x!r}")
    limit = whole_number("max_points", DEFAULT_LINE_POINTS, MIN_LINE_POINTS, MAX_LINE_POINTS)
    return jsonify(_line(measurement.id, x, y, limit, _window("x_min", "x_max")))


@blueprint.route("/v1/scans/<scan_id>/overlays")
@login_required
def scan_overlays(scan_id: str) -> Response:
    """Scans to draw over this one: its sample's others, or its lab's latest if it has none.

    Each comes with the names of its measurements, so a plot offers only the scans that
    measured what it shows. Only the scan's own lab is searched: no record crosses labs.
    """
    scan = visible_scan(scan_id)
    if scan.lab_id is None:  # a search without a lab would reach every lab's scans
        return jsonify({"sample": False, "scans": []})
    db = database()
    page = db.search_scans(lab_id=scan.lab_id, sample_id=scan.sample_id, per_page=MAX_OVERLAYS + 1)
    others = [other for other in page.items if other.scan_id != scan.scan_id][:MAX_OVERLAYS]
    return jsonify(
        {
            "sample": scan.sample_id is not None,
            "scans": [
                {
                    **scan_summary(other),
                    "measurements": [m.name for m in db.get_measurement_objects(other.id)],
                }
                for other in others
            ],
        }
    )


def _window(low_name: str, high_name: str) -> Window:
    """``?low_name=&high_name=`` as the closed range a zoomed plot shows; everything if absent."""
    bounds = []
    for name in (low_name, high_name):
        text = request.args.get(name)
        try:
            value = -math.inf if name == low_name else math.inf
            if text:
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError(text)
        except ValueError:
            abort(400, f"{name} must be a finite number, not {text!r}")
        bounds.append(value)
    if bounds[0] > bounds[1]:
        abort(400, f"{low_name} must not exceed {high_name}")
    return Window(bounds[0], bounds[1])


def _line(measurement_id: int, x: str, y: str, limit: int, window: Window) -> dict[str, Any]:
    """``y`` against ``x`` within ``window``, each bucket's extremes kept if there are too many.

    A zoomed line is read twice: its rows inside the window are counted first, so that its
    buckets (about a pixel column each) cover only what is shown.
    """
    db = database()
    total = db.get_row_count(measurement_id)
    labels = [y] if x == POINT_INDEX else [x, y]
    # Rows stored after the count was taken are left for the next request.
    inside = total
    if not window.everything:
        inside = sum(
            int(np.count_nonzero(window.holds(chunk[x])))
            for chunk in db.iter_measurement(measurement_id, 0, total, [labels[0]])
        )
    line = LineBuckets(inside, limit)
    for chunk in db.iter_measurement(measurement_id, 0, total, labels):
        xs, ys = chunk[x], chunk[y]
        if not window.everything:
            kept = window.holds(xs)
            xs, ys = xs[kept], ys[kept]
        line.add(xs, ys)
    xs, ys = line.result()
    return {
        "kind": "line",
        "x_label": x,
        "y_label": y,
        "x": json_numbers(xs),
        "y": json_numbers(ys),
        "rows": total,
        "in_window": inside,
        "sent": len(ys),
    }


def _default_kind(axes: int, rows_per_point: int) -> str:
    if rows_per_point > 1 and axes != 2:
        return "spectrum"
    return "grid" if axes == 2 else "line"


def _spectrum(
    measurement_id: int,
    x: str,
    y: str,
    rows_per_point: int,
    point: int | None,
    positions: list[str],
) -> dict[str, Any]:
    """The rows of one point (the last complete one by default), ``y`` against ``x``."""
    db = database()
    points = db.get_row_count(measurement_id) // rows_per_point
    if points == 0:
        return {"kind": "spectrum", "x_label": x, "y_label": y, "x": [], "y": [], "points": 0}
    chosen = points - 1 if point is None else point
    if not 0 <= chosen < points:
        abort(400, f"point must be 0 to {points - 1}")
    start = chosen * rows_per_point
    data = db.read_measurement(measurement_id, start, start + rows_per_point, [x, y, *positions])
    return {
        "kind": "spectrum",
        "x_label": x,
        "y_label": y,
        "x": json_numbers(data[x]),
        "y": json_numbers(data[y]),
        "point": chosen,
        "points": points,
        "position": {label: float(data[label][0]) for label in positions},
        "rows": len(data),
        "sent": len(data),
    }


def _heatmap(
    measurement: MeasurementObject,
    value: str,
    positions: list[str],
    max_cells: int,
    window: tuple[Window, Window],
) -> dict[str, Any]:
    """``value`` over the grid of the two axes, averaged over blocks of cells if large.

    The grid is the scan's own (each axis's planned positions) when its definition is
    stored, so a running map is laid out whole from its first point, unmeasured cells
    null; else the positions found in the data. ``window`` (slow, fast) keeps the cells a
    zoomed plot shows. Two passes over the chunks: the positions of each axis first (the
    grid's shape), then the values, each point's (its rows' mean) added to its block.
    """
    db = database()
    slow, fast = positions
    total = db.get_row_count(measurement.id)
    found = _cached_axis_positions(measurement.id, total, positions)
    planned = _planned_axes(measurement)
    if planned is not None and all(
        np.isin(seen, axis).all() for seen, axis in zip(found, planned, strict=True)
    ):
        ys, xs = planned
    else:
        ys, xs = found
    shown = [_cells_within(axis, part) for axis, part in zip((ys, xs), window, strict=True)]
    (row_0, row_1), (column_0, column_1) = shown
    if row_1 <= row_0 or column_1 <= column_0:
        return {
            "kind": "grid",
            "value_label": value,
            "x_label": fast,
            "y_label": slow,
            "x": [],
            "y": [],
            "z": [],
            "rows": 0,
            "cells": [len(ys), len(xs)],
            "planned": planned is not None and ys is planned[0],
        }
    blocks = GridBlocks(row_1 - row_0, column_1 - column_0, max_cells)
    cells = _GridCells(len(ys), len(xs))
    rows, rows_each = 0, set()
    for chunk in db.iter_measurement(measurement.id, 0, total, [value, *positions]):
        first_rows, values = _point_means(chunk, value, rows_each)
        row = np.searchsorted(ys, chunk[slow][first_rows])
        column = np.searchsorted(xs, chunk[fast][first_rows])
        cells.visit(row, column)
        keep = (row >= row_0) & (row < row_1) & (column >= column_0) & (column < column_1)
        blocks.add(row[keep] - row_0, column[keep] - column_0, values[keep])
        rows += len(first_rows)
    factor = blocks.factor
    return {
        "kind": "grid",
        "value_label": value,
        "x_label": fast,
        "y_label": slow,
        "x": json_numbers(_block_centres(xs[column_0:column_1], factor)),
        "y": json_numbers(_block_centres(ys[row_0:row_1], factor)),
        "z": [json_numbers(line) for line in blocks.result()],
        "rows": rows,
        "block": factor,
        "cells": [len(ys), len(xs)],
        "extent": {fast: [float(xs[0]), float(xs[-1])], slow: [float(ys[0]), float(ys[-1])]},
        "planned": planned is not None and ys is planned[0],
    }


def _block_centres(axis: np.ndarray, factor: int) -> np.ndarray:
    """Where a block of ``factor`` cells along ``axis`` is drawn: its first cell if single."""
    if factor == 1:
        return axis
    padded = np.full(-(-len(axis) // factor) * factor, np.nan)
    padded[: len(axis)] = axis
    # The last block may be short: the mean of the cells it has.
    return np.nanmean(padded.reshape(-1, factor), axis=1)


def _cells_within(axis: np.ndarray, window: Window) -> tuple[int, int]:
    """The first and past-the-last cell of sorted ``axis`` inside ``window``, one more each
    side so a zoomed map reaches the edges of the view."""
    if window.everything:
        return 0, len(axis)
    first = int(np.searchsorted(axis, window.low, side="left"))
    last = int(np.searchsorted(axis, window.high, side="right"))
    return max(first - 1, 0), min(last + 1, len(axis))


def _planned_axes(measurement: MeasurementObject) -> tuple[np.ndarray, np.ndarray] | None:
    """The sorted planned positions (slow, fast) of a 2-D measurement, from the scan's tree.

    None when the scan stored no tree (a scan written from Python without one) or the
    measurement does not sit under exactly two movements.
    """
    tree = database().get_scan(measurement.scan_id, with_settings=True).scan_tree_data
    path = _movements_above(tree.get("items", []), measurement.name)
    if path is None or len(path) != 2:
        return None
    slow, fast = (np.unique(np.asarray(read_positions(item["positions"]))) for item in path)
    if len(slow) > MAX_AXIS_POSITIONS or len(fast) > MAX_AXIS_POSITIONS:
        return None
    if len(slow) * len(fast) > MAX_GRID_CELLS:
        return None
    return slow, fast


def _movements_above(items: list[dict[str, Any]], name: str) -> list[dict[str, Any]] | None:
    """The movements (outermost first) above the measurement saved as ``name``; None if absent."""
    for item in items:
        if item.get("type") == "measurement" and (item.get("name") or item["instrument"]) == name:
            return []
        if item.get("type") == "movement":
            below = _movements_above(item.get("children", []), name)
            if below is not None:
                return [item, *below]
    return None


def _cached_axis_positions(
    measurement_id: int, total: int, positions: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_axis_positions`, kept for the last few maps: rows are only ever appended, so
    the first ``total`` rows of a measurement always hold the same positions, and a zoom or
    a second look at a map skips a pass over every row."""
    key = (id(database()), measurement_id, total, tuple(positions))
    with _AXES_LOCK:
        if key in _AXES:
            _AXES.move_to_end(key)
            return _AXES[key]
    found = _axis_positions(measurement_id, total, positions)
    with _AXES_LOCK:
        _AXES[key] = found
        while len(_AXES) > AXES_KEPT:
            _AXES.popitem(last=False)
    return found


def _axis_positions(
    measurement_id: int, total: int, positions: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct positions of each axis; 400 if they make no drawable grid."""
    found: list[np.ndarray] = [np.empty(0), np.empty(0)]
    for chunk in database().iter_measurement(measurement_id, 0, total, positions):
        found = [
            np.union1d(seen, chunk[label]) for seen, label in zip(found, positions, strict=True)
        ]
        if max(map(len, found)) > MAX_AXIS_POSITIONS or len(found[0]) * len(found[1]) > (
            MAX_GRID_CELLS
        ):
            abort(
                400,
                f"not a grid: more than {MAX_AXIS_POSITIONS:,} positions on an axis or "
                f"{MAX_GRID_CELLS:,} cells; plot it as a line (kind=line)",
            )
    return found[0], found[1]


def _point_means(
    chunk: MeasurementData, value: str, rows_each: set[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each point of a chunk, and the mean of ``value`` over its rows.

    ``rows_each`` collects the number of rows per point seen so far: a grid has one.
    """
    index = chunk.point_index
    first_rows = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    rows_each.update(np.unique(np.diff(np.r_[first_rows, len(chunk)])).tolist())
    if len(rows_each) > 1:
        abort(400, "not a grid: points have different numbers of rows")
    values = chunk[value]
    if rows_each == {1}:
        return first_rows, values.astype(np.float64, copy=False)
    present = ~np.isnan(values)  # NaN rows are skipped, as xarray's mean does
    sums = np.add.reduceat(np.where(present, values, 0.0), first_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return first_rows, sums / np.add.reduceat(present, first_rows)


class _GridCells:
    """One bit per cell of the grid: a position measured twice is not a grid."""

    def __init__(self, rows: int, columns: int) -> None:
        self.columns = columns
        self.bits = np.zeros(-(-rows * columns // 8), dtype=np.uint8)

    def visit(self, row: np.ndarray, column: np.ndarray) -> None:
        """Mark the cells; 400 if one of them was measured before."""
        cell = row.astype(np.int64) * self.columns + column
        byte, bit = cell >> 3, (1 << (cell & 7)).astype(np.uint8)
        if np.unique(cell).size != cell.size or np.any(self.bits[byte] & bit):
            abort(400, "not a grid: some positions were measured more than once")
        np.bitwise_or.at(self.bits, byte, bit)
