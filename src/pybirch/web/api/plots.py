"""Plot data of a measurement, downsampled on the server: a line, or a heatmap for 2-D scans."""

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
    kind = request.args.get("kind") or ("grid" if len(positions) == 2 else "line")
    if kind == "grid":
        if len(positions) != 2:
            abort(400, "a heatmap needs a scan over exactly two axes")
        return jsonify(_heatmap(measurement.id, y, positions))
    if kind != "line":
        abort(400, "kind is line or grid")
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
