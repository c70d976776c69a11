"""A gridded measurement as an xarray Dataset, filled chunk by chunk into its output arrays.

Two passes over the rows: the first finds each axis's distinct positions and the rows per
point (the grid's shape), the second puts every chunk's readings in their cells. Besides
the output (a float64 array per data column, one value per cell, inherently the size of
the data) it holds the axes' positions, a byte per cell to notice a position measured
twice, and one chunk, so a grid is never several copies of the measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from pybirch.database.errors import DataIntegrityError
from pybirch.database.storage.layout import Layout

if TYPE_CHECKING:
    import xarray as xr

    from pybirch.database.storage.measurement_data import MeasurementData

#: The chunks of a measurement, read again on each call (``labels`` picks the columns).
ChunkReader = Callable[[list[str]], Iterable["MeasurementData"]]


class _Axes:
    """The sorted distinct positions of each axis, merged a few chunks at a time."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.values = {label: np.empty(0) for label in labels}
        self._pending: dict[str, list[np.ndarray]] = {label: [] for label in labels}
        self._pending_size = 0

    def add(self, chunk: MeasurementData, rows: int) -> None:
        """The positions of a chunk's points (``rows`` rows each)."""
        for label in self.labels:
            self._pending[label].append(np.unique(chunk[label][::rows]))
        self._pending_size += len(chunk) // rows
        # Merging once the pending points outnumber the known positions keeps the cost
        # n log n for a 1-D scan (every point a new position), not quadratic.
        if self._pending_size >= max(65536, *(len(v) for v in self.values.values())):
            self._merge()

    def shape(self) -> tuple[int, ...]:
        """Number of distinct positions of each axis, after merging what is pending."""
        self._merge()
        return tuple(len(self.values[label]) for label in self.labels)

    def _merge(self) -> None:
        for label in self.labels:
            if self._pending[label]:
                self.values[label] = np.unique(
                    np.concatenate([self.values[label], *self._pending[label]])
                )
                self._pending[label] = []
        self._pending_size = 0


def _rows_per_point(name: str, chunk: MeasurementData) -> int:
    """The rows each point of ``chunk`` has; DataIntegrityError if they differ."""
    if not len(chunk):
        return 0
    counts = np.bincount(chunk.point_index - chunk.point_index[0])
    if np.any(counts != counts[0]):
        raise DataIntegrityError(f"{name}: points have different numbers of rows")
    return int(counts[0])


def build_grid(
    name: str,
    layout: Layout,
    units: dict[str, str],
    read: ChunkReader,
    data_labels: list[str] | None = None,
) -> xr.Dataset:
    """The measurement read by ``read`` as a Dataset with one dimension per position column.

    ``data_labels`` picks the data columns to grid (all of the layout's by default).

    Points of a scan that stopped early are NaN; a position measured twice is not a grid
    (:class:`DataIntegrityError`).
    """
    import xarray as xr

    positions = tuple(layout.position_labels)
    if not positions:
        raise DataIntegrityError(f"{name}: no position columns to grid by")
    axes, rows = _Axes(positions), 0
    for chunk in read(list(positions)):
        chunk_rows = _rows_per_point(name, chunk)
        if chunk_rows and rows and chunk_rows != rows:
            raise DataIntegrityError(f"{name}: points have different numbers of rows")
        rows = rows or chunk_rows
        if chunk_rows:
            axes.add(chunk, chunk_rows)
    rows = rows or 1
    shape = axes.shape()
    data_labels = list(layout.data_labels) if data_labels is None else data_labels
    row_shape = (rows,) if rows > 1 else ()
    outputs = {label: np.full(shape + row_shape, np.nan) for label in data_labels}
    filled = np.zeros(int(np.prod(shape)), dtype=bool)
    for chunk in read([*data_labels, *positions]):
        if not len(chunk):
            continue
        cells = np.ravel_multi_index(
            tuple(np.searchsorted(axes.values[p], chunk[p][::rows]) for p in positions), shape
        )
        if filled[cells].any() or np.unique(cells).size != cells.size:
            raise DataIntegrityError(
                f"{name}: some positions were measured more than once; not a grid"
            )
        filled[cells] = True
        for label, output in outputs.items():
            output.reshape(-1, *row_shape)[cells] = chunk[label].reshape(-1, *row_shape)
    dims = (*positions, *(("row",) if row_shape else ()))
    variables = {
        label: (dims, output, {"units": units.get(label, "")}) for label, output in outputs.items()
    }
    dataset = xr.Dataset(variables, coords=axes.values, attrs={"measurement": name})
    for label in positions:
        dataset[label].attrs["units"] = units.get(label, "")
    return dataset
