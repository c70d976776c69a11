"""Rows read back from storage, as numpy columns, a DataFrame or an xarray Dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pybirch.database.errors import DataIntegrityError
from pybirch.database.storage.layout import POINT_INDEX, Layout

if TYPE_CHECKING:
    import xarray as xr


@dataclass
class MeasurementData:
    """Consecutive rows of one measurement: every column per row, in layout order.

    ``columns`` maps each label (data, positions, ``timestamp``) to a per-row array and
    ``point_index`` tells the point of each row. ``first_row`` is the first row's index
    in the whole measurement; ``rows`` gives every row's index when the rows read are not
    consecutive (a gap in what was stored).
    """

    name: str
    layout: Layout
    first_row: int
    point_index: np.ndarray
    columns: dict[str, np.ndarray]
    #: Shape of each point's rows when all points have the same, e.g. (1024,) for spectra.
    point_shape: tuple[int, ...] | None = None
    units: dict[str, str] = field(default_factory=dict)
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.point_index.shape[0])

    def __getitem__(self, label: str) -> np.ndarray:
        if label == POINT_INDEX:
            return self.point_index
        try:
            return self.columns[label]
        except KeyError:
            raise KeyError(f"no column {label!r}; there are {list(self.columns)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter([*self.columns, POINT_INDEX])

    @property
    def row_index(self) -> np.ndarray:
        """Index of each row within the measurement."""
        if self.rows is not None:
            return self.rows
        return np.arange(self.first_row, self.first_row + len(self), dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns."""
        return self.point_index.nbytes + sum(c.nbytes for c in self.columns.values())

    def to_numpy(self, labels: list[str] | None = None) -> np.ndarray:
        """Rows x columns float64 array of ``labels`` (the data columns by default)."""
        labels = labels or [label for label in self.layout.data_labels if label in self.columns]
        return np.column_stack([self[label].astype(np.float64, copy=False) for label in labels])

    def to_dataframe(self) -> pd.DataFrame:
        """Every column (with ``point_index``) as a DataFrame indexed by row."""
        frame = pd.DataFrame({**self.columns, POINT_INDEX: self.point_index}, copy=False)
        frame.index = pd.Index(self.row_index, name="row")
        return frame

    def arrays(self, label: str) -> np.ndarray:
        """A data column as one array per point: shape (points, *point_shape)."""
        if self.point_shape is None:
            raise DataIntegrityError(
                f"{self.name}: points have different numbers of rows; use point_index"
            )
        column = self[label]
        per_point = int(np.prod(self.point_shape))
        if len(column) % per_point:
            raise DataIntegrityError(f"{self.name}: the range does not hold whole points")
        return column.reshape(-1, *self.point_shape)

    def to_xarray(self) -> xr.Dataset:
        """A gridded scan as a Dataset with one dimension per position column.

        Points of a scan that stopped early are NaN. A scan that visits a position twice
        is not a grid: use :meth:`to_dataframe` for it.
        """
        import xarray as xr

        positions = self.layout.position_labels
        if not positions:
            raise DataIntegrityError(f"{self.name}: no position columns to grid by")
        first_rows = np.unique(self.point_index, return_index=True)[1]
        coords = {label: np.unique(self[label][first_rows]) for label in positions}
        grid_index = tuple(
            np.searchsorted(coords[label], self[label][first_rows]) for label in positions
        )
        shape = tuple(len(values) for values in coords.values())
        flat = np.ravel_multi_index(grid_index, shape)
        if np.unique(flat).size != flat.size:
            raise DataIntegrityError(
                f"{self.name}: some positions were measured more than once; not a grid"
            )
        rows = self._rows_per_point()
        extra_dims = ("row",) if rows > 1 else ()
        variables = {}
        for label in self.layout.data_labels:
            if label not in self.columns:
                continue
            values = np.full(shape + (rows,) * bool(extra_dims), np.nan)
            values.reshape(-1, *((rows,) if extra_dims else ()))[flat] = self[label].reshape(
                len(flat), *((rows,) if extra_dims else ())
            )
            variables[label] = (
                (*positions, *extra_dims),
                values,
                {"units": self.units.get(label, "")},
            )
        dataset = xr.Dataset(variables, coords=coords, attrs={"measurement": self.name})
        for label in positions:
            dataset[label].attrs["units"] = self.units.get(label, "")
        return dataset

    def _rows_per_point(self) -> int:
        counts = np.bincount(self.point_index - self.point_index[0]) if len(self) else []
        if len(counts) and np.any(counts != counts[0]):
            raise DataIntegrityError(f"{self.name}: points have different numbers of rows")
        return int(counts[0]) if len(counts) else 1
