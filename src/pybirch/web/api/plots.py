"""Plot data of a measurement, downsampled on the server.

A line (``y`` against a position or the point index), a heatmap for 2-D scans, and for a
reading of several rows per point (a spectrum) the rows of one point (``y`` against ``x``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, request
from flask_login import login_required

from pybirch.database import Layout
from pybirch.database.errors import DataIntegrityError
from pybirch.database.storage.layout import POINT_INDEX
from pybirch.realtime.json_numbers import json_numbers
from pybirch.web.api.routes import blueprint, visible_measurement
from pybirch.web.downsample import grid, line_indices
from pybirch.web.services import database

#: Points of a line, and cells of a heatmap, sent at most (and by default).
MAX_LINE_POINTS, DEFAULT_LINE_POINTS = 20_000, 2_000
MAX_CELLS = 250_000

__all__ = ["blueprint"]


@blueprint.route("/v1/scans/<scan_id>/plot/<measurement_name>")
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
    kind = request.args.get("kind") or _default_kind(len(positions), rows_per_point)
    if kind == "spectrum":
        if rows_per_point < 2:
            abort(400, "a spectrum needs readings of several rows per point")
        if not request.args.get("y"):  # a spectrum: the last column against the first
            y = layout.data_labels[-1]
        others = [label for label in layout.data_labels if label != y] or [y]
        x = request.args.get("x") or others[0]
        if x not in layout.data_labels:
            abort(400, f"no data column {x!r}")
        point = request.args.get("point", type=int)
        return jsonify(_spectrum(measurement.id, x, y, rows_per_point, point, positions))
    if kind == "grid":
        if len(positions) != 2:
            abort(400, "a heatmap needs a scan over exactly two axes")
        return jsonify(_heatmap(measurement.id, y, positions))
    if kind != "line":
        abort(400, "kind is line, grid or spectrum")
    x = request.args.get("x") or (positions[-1] if positions else POINT_INDEX)
    if x != POINT_INDEX and x not in layout.labels:
        abort(400, f"no column {x!r}")
    limit = min(
        max(request.args.get("max_points", DEFAULT_LINE_POINTS, type=int), 10), MAX_LINE_POINTS
    )
    return jsonify(_line(measurement.id, x, y, limit))


def _line(measurement_id: int, x: str, y: str, limit: int) -> dict[str, Any]:
    labels = [y] if x == POINT_INDEX else [x, y]
    data = database().read_measurement(measurement_id, columns=labels)
    kept = line_indices(data[y], limit)
    return {
        "kind": "line",
        "x_label": x,
        "y_label": y,
        "x": json_numbers(data[x][kept]),
        "y": json_numbers(data[y][kept]),
        "rows": len(data),
        "sent": int(kept.size),
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


def _heatmap(measurement_id: int, value: str, positions: list[str]) -> dict[str, Any]:
    data = database().read_measurement(measurement_id, columns=[value, *positions])
    if len(data) == 0:
        return {"kind": "grid", "value_label": value, "x": [], "y": [], "z": [], "rows": 0}
    try:
        values = data.to_xarray()[value]
    except DataIntegrityError as exc:
        abort(400, f"not a grid: {exc}")
    if "row" in values.dims:  # several rows per point (a spectrum): their mean
        values = values.mean("row")
    slow, fast = positions
    cells, factor = grid(values.transpose(slow, fast).values, MAX_CELLS)
    return {
        "kind": "grid",
        "value_label": value,
        "x_label": fast,
        "y_label": slow,
        "x": json_numbers(values[fast].values[::factor]),
        "y": json_numbers(values[slow].values[::factor]),
        "z": [json_numbers(row) for row in cells],
        "rows": len(data),
        "block": factor,
    }
