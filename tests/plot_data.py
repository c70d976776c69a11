"""Scans written straight into storage, as big as a plot test needs, in seconds."""

from __future__ import annotations

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
) -> tuple[Scan, MeasurementObject]:
    """A 2-D scan over ``ys`` (slow) and ``xs`` (fast) holding ``values`` (one per point,
    in scan order; fewer than the grid's cells for a scan that stopped early), stored in
    chunks of ``chunk`` points. Returns the scan and its measurement."""
    scan = db.create_scan(name, lab_id=lab_id, status="completed")
    layout = Layout.build(["signal (V)"], ["y (mm)", "x (mm)"])
    measurement = db.create_measurement_object(scan.id, "Lock-in", layout)
    slow, fast = (grid.ravel()[: len(values)] for grid in np.meshgrid(ys, xs, indexing="ij"))
    for first in range(0, len(values), chunk):
        part = slice(first, first + chunk)
        n = len(values[part])
        columns = [values[part], slow[part], fast[part], np.full(n, STAMP)]
        db.write_rows(measurement.id, ChunkData(first, first, columns, n, n))
    return scan, measurement


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
