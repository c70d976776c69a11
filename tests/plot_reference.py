"""The plots as they were computed before streaming: the whole measurement in memory.

The reference the streamed plots must equal (tests) and the baseline they are measured
against (benchmarks/plots.py). Never used by the server.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database.storage.layout import POINT_INDEX


def line_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep every bucket's extremes."""
    count = len(values)
    if count <= max_points:
        return np.arange(count)
    buckets = max(1, max_points // 2)
    size = math.ceil(count / buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:count] = values
    blocks = padded.reshape(buckets, size)
    finite = np.isfinite(blocks)
    low = np.where(finite, blocks, np.inf).argmin(axis=1)
    high = np.where(finite, blocks, -np.inf).argmax(axis=1)
    starts = np.arange(buckets) * size
    kept = np.unique(np.concatenate([starts + low, starts + high]))
    return kept[kept < count]


def grid(values: np.ndarray, max_cells: int) -> tuple[np.ndarray, int]:
    """The grid averaged over square blocks until it has at most ``max_cells`` cells."""
    factor = 1
    rows, columns = values.shape
    while math.ceil(rows / factor) * math.ceil(columns / factor) > max_cells:
        factor += 1
    if factor == 1:
        return values, 1
    padded_rows, padded_columns = -(-rows // factor) * factor, -(-columns // factor) * factor
    padded = np.full((padded_rows, padded_columns), np.nan)
    padded[:rows, :columns] = values
    blocks = padded.reshape(padded_rows // factor, factor, padded_columns // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # blocks of missing points: NaN
        return np.nanmean(blocks, axis=(1, 3)), factor


def whole_line(
    db: DatabaseService, measurement_id: int, x: str, y: str, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a line plot, read whole and downsampled."""
    labels = [y] if x == POINT_INDEX else [x, y]
    data = db.read_measurement(measurement_id, columns=labels)
    kept = line_indices(data[y], limit)
    return data[x][kept], data[y][kept]


def whole_heatmap(
    db: DatabaseService, measurement_id: int, value: str, positions: list[str], max_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and z of a heatmap, read whole, gridded by xarray and averaged over blocks."""
    data = db.read_measurement(measurement_id, columns=[value, *positions])
    values = data.to_xarray()[value]
    if "row" in values.dims:
        values = values.mean("row")
    slow, fast = positions
    cells, factor = grid(values.transpose(slow, fast).values, max_cells)
    xs, ys = (block_centres(values[axis].values, factor) for axis in (fast, slow))
    return xs, ys, cells


def block_centres(axis: np.ndarray, factor: int) -> np.ndarray:
    """The mean position of each block of ``factor`` cells (the last may be short)."""
    return np.array([axis[i : i + factor].mean() for i in range(0, len(axis), factor)])
