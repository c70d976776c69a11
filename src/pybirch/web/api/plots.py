"""Plot data of a measurement, downsampled on the server.

A line (``y`` against a position or the point index), a heatmap for 2-D scans, and for a
reading of several rows per point (a spectrum) the rows of one point (``y`` against ``x``).
Every plot reads the measurement chunk by chunk, so a request holds about one chunk in
memory whether the scan has a thousand points or a billion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Response, abort, jsonify, request
from flask_login import login_required

from pybirch.database import Layout, MeasurementData
from pybirch.database.models import MeasurementObject
from pybirch.database.storage.layout import POINT_INDEX
from pybirch.realtime.json_numbers import json_numbers
from pybirch.web.api.limits import (
    DEFAULT_LINE_POINTS,
    MAX_LINE_POINTS,
    MIN_LINE_POINTS,
    PLOT_KINDS,
)
from pybirch.web.api.routes import blueprint, visible_measurement
from pybirch.web.downsample import GridBlocks, LineBuckets
from pybirch.web.listing import MAX_ROW, choice, optional_number, whole_number
from pybirch.web.services import database

#: Cells of a heatmap sent at most.
MAX_CELLS = 250_000
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
        return jsonify(_heatmap(measurement, y, positions))
    x = request.args.get("x") or (positions[-1] if positions else POINT_INDEX)
    if x != POINT_INDEX and x not in layout.labels:
        abort(400, f"no column {x!r}")
    limit = whole_number("max_points", DEFAULT_LINE_POINTS, MIN_LINE_POINTS, MAX_LINE_POINTS)
    return jsonify(_line(measurement.id, x, y, limit))


def _line(measurement_id: int, x: str, y: str, limit: int) -> dict[str, Any]:
    """``y`` against ``x``, the extremes of each bucket kept when there are too many."""
    db = database()
    total = db.get_row_count(measurement_id)
    line = LineBuckets(total, limit)
    labels = [y] if x == POINT_INDEX else [x, y]
    # Rows stored after the count was taken are left for the next request.
    for chunk in db.iter_measurement(measurement_id, 0, total, labels):
        line.add(chunk[x], chunk[y])
    xs, ys = line.result()
    return {
        "kind": "line",
        "x_label": x,
        "y_label": y,
        "x": json_numbers(xs),
        "y": json_numbers(ys),
        "rows": line.rows,
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


def _heatmap(measurement: MeasurementObject, value: str, positions: list[str]) -> dict[str, Any]:
    """``value`` over the grid of the two axes, averaged over blocks of cells if large.

    Two passes over the chunks: the positions of each axis first (the grid's shape), then
    the values, each point's (its rows' mean) added to the block of its cell.
    """
    db = database()
    slow, fast = positions
    total = db.get_row_count(measurement.id)
    ys, xs = _axis_positions(measurement.id, total, positions)
    if len(xs) == 0:
        return {"kind": "grid", "value_label": value, "x": [], "y": [], "z": [], "rows": 0}
    blocks = GridBlocks(len(ys), len(xs), MAX_CELLS)
    cells = _GridCells(len(ys), len(xs))
    rows, rows_each = 0, set()
    for chunk in db.iter_measurement(measurement.id, 0, total, [value, *positions]):
        first_rows, values = _point_means(chunk, value, rows_each)
        row = np.searchsorted(ys, chunk[slow][first_rows])
        column = np.searchsorted(xs, chunk[fast][first_rows])
        cells.visit(row, column)
        blocks.add(row, column, values)
        rows += len(chunk)
    factor = blocks.factor
    return {
        "kind": "grid",
        "value_label": value,
        "x_label": fast,
        "y_label": slow,
        "x": json_numbers(xs[::factor]),
        "y": json_numbers(ys[::factor]),
        "z": [json_numbers(line) for line in blocks.result()],
        "rows": rows,
        "block": factor,
    }


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
