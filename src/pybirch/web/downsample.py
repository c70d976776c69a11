"""Fewer points that draw the same picture: what the browser receives of a big scan.

Both reductions are fed chunk by chunk, so a plot holds about one chunk of the scan in
memory whatever its size. A line keeps, in each of ``max_points / 2`` buckets of
consecutive points, the smallest and the largest value (in their order), so peaks and
dips survive; the bucket edges follow from the total number of points, known before the
first chunk. A grid is averaged over square blocks of cells, each block's sum and count
accumulated as its cells arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class LineBuckets:
    """The extremes of every bucket of a line of ``count`` points, fed in order."""

    def __init__(self, count: int, max_points: int) -> None:
        self.count = count
        #: A line that fits is sent whole: its chunks are kept as they come.
        self.whole = count <= max_points
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._seen = 0
        buckets = max(1, max_points // 2)
        self.size = max(1, math.ceil(count / buckets))
        started = -(-count // self.size)  # buckets that start before the last point
        # Until a finite value arrives, a bucket's extremes are its first point, as an
        # argmin/argmax over all-NaN values gives.
        self._index = {side: np.arange(started) * self.size for side in ("low", "high")}
        self._value = {"low": np.full(started, np.inf), "high": np.full(started, -np.inf)}
        self._x = {side: np.full(started, np.nan) for side in ("low", "high")}
        self._y = {side: np.full(started, np.nan) for side in ("low", "high")}

    @property
    def rows(self) -> int:
        """Points added so far."""
        return self._seen

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """The next points of the line, in order."""
        first, n = self._seen, len(y)
        self._seen += n
        if n == 0:
            return
        if self.whole:
            self._parts.append((x.copy(), y.copy()))  # a view would pin the whole chunk
            return
        bucket = np.arange(first, first + n) // self.size
        opening = (np.arange(first, first + n) % self.size) == 0
        for side in ("low", "high"):
            self._x[side][bucket[opening]] = x[opening]
            self._y[side][bucket[opening]] = y[opening]
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        finite = np.isfinite(y)
        for side, ignored, extreme, better in (
            ("low", np.inf, np.minimum, np.less),
            ("high", -np.inf, np.maximum, np.greater),
        ):
            values = np.where(finite, y, ignored)
            best = extreme.reduceat(values, starts)
            hits = values == np.repeat(best, np.diff(np.r_[starts, n]))
            at = np.minimum.reduceat(np.where(hits, np.arange(n), n), starts)  # first hit
            # Strictly better only: on a tie the earlier point (an earlier chunk) stays.
            wins = better(best, self._value[side][bucket[starts]])
            target = bucket[starts][wins]
            self._value[side][target] = best[wins]
            self._index[side][target] = first + at[wins]
            self._x[side][target] = x[at[wins]]
            self._y[side][target] = y[at[wins]]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y of the points kept, in their order along the line."""
        if self.whole:
            if not self._parts:
                return np.empty(0), np.empty(0)
            xs, ys = zip(*self._parts, strict=True)
            return np.concatenate(xs), np.concatenate(ys)
        index = np.concatenate([self._index["low"], self._index["high"]])
        kept, where = np.unique(index, return_index=True)
        inside = kept < self._seen  # buckets the stored rows never reached hold nothing
        x = np.concatenate([self._x["low"], self._x["high"]])[where][inside]
        y = np.concatenate([self._y["low"], self._y["high"]])[where][inside]
        return x, y


class GridBlocks:
    """Averages over square blocks of a ``rows`` x ``columns`` grid, fed cell by cell."""

    def __init__(self, rows: int, columns: int, max_cells: int) -> None:
        factor = 1
        while math.ceil(rows / factor) * math.ceil(columns / factor) > max_cells:
            factor += 1
        #: Cells per side of a block.
        self.factor = factor
        self.shape = (math.ceil(rows / factor), math.ceil(columns / factor))
        self._sums = np.zeros(self.shape[0] * self.shape[1])
        self._counts = np.zeros(self.shape[0] * self.shape[1], dtype=np.int64)

    def add(self, row: np.ndarray, column: np.ndarray, values: np.ndarray) -> None:
        """Values of the cells at (``row``, ``column``); NaN values count as missing."""
        present = ~np.isnan(values)
        blocks = (row[present] // self.factor) * self.shape[1] + column[present] // self.factor
        size = self._sums.size
        self._sums += np.bincount(blocks, weights=values[present], minlength=size)
        self._counts += np.bincount(blocks, minlength=size)

    def result(self) -> np.ndarray:
        """The block averages; NaN for blocks without a value."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self._sums / self._counts
        means[self._counts == 0] = np.nan
        return means.reshape(self.shape)


@dataclass(frozen=True)
class Window:
    """The closed range ``low`` to ``high`` of an axis that a zoomed plot shows."""

    low: float = -math.inf
    high: float = math.inf

    @property
    def everything(self) -> bool:
        """True if nothing is left out."""
        return self.low == -math.inf and self.high == math.inf

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` lie inside (NaN never does)."""
        return (values >= self.low) & (values <= self.high)
