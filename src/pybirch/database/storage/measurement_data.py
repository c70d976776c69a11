"""Rows read back from storage, as numpy columns, a DataFrame or an xarray Dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pybirch.database.errors import DataIntegrityError
from pybirch.database.storage.grid import build_grid
from pybirch.database.storage.layout import POINT_INDEX, Layout

if TYPE_CHECKING:
    import pandas as pd
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
        import pandas as pd  # on first use: importing pandas costs a lab computer's start-up

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
        is not a grid: use :meth:`to_dataframe` for it. For a stored measurement too long
        to read whole, ``DatabaseService.read_xarray`` builds the same Dataset chunk by chunk.
        """
        data_labels = [label for label in self.layout.data_labels if label in self.columns]
        return build_grid(self.name, self.layout, self.units, lambda _: [self], data_labels)
