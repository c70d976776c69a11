"""Scans written straight into storage, as big as a plot test needs, in seconds."""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.database import DatabaseService, Layout
from pybirch.database.models import MeasurementObject, Scan
from pybirch.database.storage import ChunkData

#: The time stamp every stored row gets (plots never read it).
STAMP = 1.7e9


def store_map(
    db: DatabaseService,
    lab_id: int,
    xs: np.ndarray,
    ys: np.ndarray,
    values: np.ndarray,
    chunk: int,
    name: str = "map",
    planned: bool = False,
) -> tuple[Scan, MeasurementObject]:
    """A 2-D scan over ``ys`` (slow) and ``xs`` (fast) holding ``values`` (one per point,
    in scan order; fewer than the grid's cells for a scan that stopped early), stored in
    chunks of ``chunk`` points. ``planned`` stores the scan's tree (its axes) with it.
    Returns the scan and its measurement."""
    fields = {"scan_tree_data": map_tree(xs, ys)} if planned else {}
    scan = db.create_scan(name, lab_id=lab_id, status="completed", **fields)
    layout = Layout.build(["signal (V)"], ["y (mm)", "x (mm)"])
    measurement = db.create_measurement_object(scan.id, "Lock-in", layout)
    slow, fast = (grid.ravel()[: len(values)] for grid in np.meshgrid(ys, xs, indexing="ij"))
    for first in range(0, len(values), chunk):
        part = slice(first, first + chunk)
        n = len(values[part])
        columns = [values[part], slow[part], fast[part], np.full(n, STAMP)]
        db.write_rows(measurement.id, ChunkData(first, first, columns, n, n))
    return scan, measurement


def map_tree(xs: np.ndarray, ys: np.ndarray) -> dict[str, Any]:
    """The stored tree of a 2-D scan: stage y over ``ys``, stage x over ``xs``, a lock-in."""
    reading = {"type": "measurement", "instrument": "Lock-in", "name": None, "settings": {}}
    inner = {
        "type": "movement",
        "instrument": "Stage X",
        "positions": xs.tolist(),
        "snake": False,
        "settings": {},
        "children": [reading],
    }
    outer = {
        "type": "movement",
        "instrument": "Stage Y",
        "settings": {},
        "snake": False,
        "positions": {"start": float(ys[0]), "stop": float(ys[-1]), "count": len(ys)},
        "children": [inner],
    }
    return {"instruments": {}, "items": [outer]}


def store_line(
    db: DatabaseService, lab_id: int, xs: np.ndarray, ys: np.ndarray, chunk: int, name: str
) -> tuple[Scan, MeasurementObject]:
    """A 1-D scan of ``ys`` (``signal (V)``) against ``xs`` (``bias (V)``) in chunks."""
    scan = db.create_scan(name, lab_id=lab_id, status="completed")
    layout = Layout.build(["signal (V)"], ["bias (V)"])
    measurement = db.create_measurement_object(scan.id, "Meter", layout)
    for first in range(0, len(ys), chunk):
        part = slice(first, first + chunk)
        n = len(ys[part])
        db.write_rows(
            measurement.id, ChunkData(first, first, [ys[part], xs[part], np.full(n, STAMP)], n, n)
        )
    return scan, measurement
