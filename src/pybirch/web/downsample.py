"""Fewer points that draw the same picture: what the browser receives of a big scan.

A line keeps, in each of ``max_points / 2`` buckets of consecutive points, the smallest
and the largest value (in their order), so peaks and dips survive. A grid is averaged
over blocks of cells.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


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
