"""The engine's column buffer per measurement, and the batches it hands to extensions.

On the hot path a point costs one ``tobytes()`` copy and two list appends: the reading's
bytes and its timestamp. Positions are not stored per point: each pass of the parent
movement records its sequence of commanded positions once, and a batch rebuilds the
position of every row from those passes when an extension first asks for it. Point
indices are implicit (points are numbered in the order they were taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pybirch.instruments.errors import MeasurementShapeError

if TYPE_CHECKING:
    import pandas as pd

    from pybirch.scan.axis import Linspace
    from pybirch.scan.tree import MeasurementPlan

FLOAT64 = np.dtype(np.float64)

#: Names of the two bookkeeping columns every row carries.
POINT_INDEX_COLUMN = "point_index"
TIMESTAMP_COLUMN = "timestamp"


@dataclass(frozen=True)
class MeasurementColumns:
    """What a measurement's rows are: its name, instrument and column labels."""

    name: str
    instrument_name: str
    #: Labels of the measurement's own columns, ``name (unit)``.
    data_columns: tuple[str, ...]
    #: Labels of the ancestor positions, outermost first.
    position_columns: tuple[str, ...]

    @classmethod
    def from_plan(cls, plan: MeasurementPlan) -> MeasurementColumns:
        """The columns of a planned measurement."""
        return cls(
            plan.name,
            plan.item.instrument.name,
            tuple(plan.data_columns),
            tuple(plan.position_columns),
        )


class PointRecorder(Protocol):
    """Where the engine writes each point as it is measured (see :mod:`pybirch.scan.journal`)."""

    def begin_pass(self, start: int, outer: tuple[float, ...]) -> None:
        """Record that points from ``start`` on sit at the outer positions ``outer``."""

    def point(self, data: bytes, timestamp: float, position: float) -> None:
        """Record one point: its readings, when it was taken and its parent's position."""

    def close(self) -> None:
        """Stop recording (the scan is over)."""


@dataclass(frozen=True)
class PositionPass:
    """One pass of a measurement's parent loop: where it started and what it commanded."""

    #: Number of the measurement's first point in this pass.
    start: int
    #: Positions of the movements above the parent, outermost first (fixed for the pass).
    outer: tuple[float, ...]
    #: The parent's positions in the order it visits them (an array or a lazy
    #: :class:`~pybirch.scan.axis.Linspace`; slices are arrays), or None without a parent.
    sequence: np.ndarray | Linspace | None


class MeasurementBuffer:
    """Readings of one measurement since the last flush."""

    def __init__(
        self, plan: MeasurementPlan, buffer_size: int, recorder: PointRecorder | None = None
    ) -> None:
        self.plan = plan
        self.name = plan.name
        self.columns = MeasurementColumns.from_plan(plan)
        #: Gets every point as it is measured, so a killed process loses none (or None).
        self.recorder = recorder
        self.column_count = len(plan.data_columns)
        self.row_bytes = 8 * self.column_count
        self.buffer_size = buffer_size
        #: Points per batch; lowered after the first point if a point has many rows.
        self.points_per_batch = buffer_size
        #: One ``bytes`` per point: the reading as C-ordered float64 rows.
        self.chunks: list[bytes] = []
        #: One time.time() per point.
        self.timestamps: list[float] = []
        self.flushed_points = 0
        self.calibrated = False
        #: Shape of the first reading; readings of this shape and dtype skip validation.
        self.shape: tuple[int, ...] = ()
        self._passes: list[PositionPass] = []

    @property
    def points_taken(self) -> int:
        """Points taken so far, delivered or not."""
        return self.flushed_points + len(self.chunks)

    def begin_pass(self, outer: tuple[float, ...], sequence: np.ndarray | Linspace | None) -> None:
        """Record that the parent loop starts a pass through ``sequence``."""
        self._passes.append(PositionPass(self.points_taken, outer, sequence))
        if self.recorder is not None:
            self.recorder.begin_pass(self.points_taken, outer)

    def position(self) -> float:
        """The parent's commanded position for the point being taken (NaN without a parent)."""
        current = self._passes[-1]
        if current.sequence is None:
            return float("nan")
        return float(current.sequence[self.points_taken - current.start])

    def add_first(self, result: object, timestamp: float) -> None:
        """Add the first point, checking its shape and sizing batches from its row count."""
        rows = self.as_rows(result)
        self._record(rows.tobytes(), timestamp)
        self.points_per_batch = max(1, self.buffer_size // max(1, rows.shape[0]))
        self.shape = np.shape(result)  # type: ignore[arg-type]
        self.calibrated = True

    def add(self, result: object, timestamp: float) -> bool:
        """Add a point; return True when the buffer holds a full batch."""
        if not self.calibrated:
            self.add_first(result, timestamp)
        else:
            self._record(self.to_bytes(result), timestamp)
        return len(self.chunks) >= self.points_per_batch

    def _record(self, data: bytes, timestamp: float) -> None:
        if self.recorder is not None:
            self.recorder.point(data, timestamp, self.position())
        self.chunks.append(data)
        self.timestamps.append(timestamp)

    def to_bytes(self, result: object) -> bytes:
        """A reading as float64 bytes, validated unless it looks exactly like the first."""
        # a real array only: a driver's own object could claim a dtype and shape and hand
        # back any bytes from its tobytes()
        if type(result) is np.ndarray and result.dtype is FLOAT64 and result.shape == self.shape:
            return result.tobytes()
        return self.as_rows(result).tobytes()

    def as_rows(self, result: object) -> np.ndarray:
        """A reading as a 2-D float64 array with the declared number of columns."""
        try:
            rows = np.asarray(result, dtype=FLOAT64)
        except (TypeError, ValueError) as exc:
            raise self._shape_error(
                f"point {self.points_taken} returned data that is not numeric: {exc}"
            ) from exc
        if rows.ndim == 1 and rows.size == self.column_count:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != self.column_count or rows.shape[0] == 0:
            raise self._shape_error(
                f"point {self.points_taken} returned an array of shape {rows.shape}; "
                f"expected (rows, {self.column_count}) for columns {self.plan.data_columns}"
            )
        return rows

    def take(self) -> DataBatch | None:
        """Hand over everything buffered as one batch, or None if empty.

        Raises :class:`MeasurementShapeError` if a point's data was not whole rows; the
        points before it are kept in the buffer and can still be taken.
        """
        count = len(self.chunks)
        if count == 0:
            return None
        joined = b"".join(self.chunks)
        rows_per_point: np.ndarray | None = None
        if len(joined) != count * self.row_bytes:
            # Not one row per point: find each point's rows and stop at a malformed one.
            rows_per_point = self._rows_per_point(count)
            count = len(rows_per_point)
            joined = b"".join(self.chunks[:count])
        batch = DataBatch(
            self.columns,
            self.flushed_points,
            joined,
            self.timestamps[:count],
            rows_per_point,
            self._passes,
        )
        taken = batch.point_count
        del self.chunks[:taken], self.timestamps[:taken]
        self.flushed_points += taken
        self._passes = self._passes[-1:]
        if self.chunks:
            bad = self.chunks[0]
            raise self._shape_error(
                f"point {self.flushed_points} returned {len(bad)} bytes, not whole rows of "
                f"{self.column_count} float64 columns"
            )
        return batch

    def _rows_per_point(self, count: int) -> np.ndarray:
        """Rows of each point up to (not including) the first malformed one."""
        lengths = np.fromiter(map(len, self.chunks), dtype=np.int64, count=count)
        bad = np.flatnonzero((lengths == 0) | (lengths % self.row_bytes != 0))
        good = lengths[: bad[0]] if bad.size else lengths
        return good // self.row_bytes

    def _shape_error(self, message: str) -> MeasurementShapeError:
        return MeasurementShapeError(message, self.plan.item.instrument.name)


class DataBatch:
    """Consecutive rows of one measurement, with positions, point indices and timestamps."""

    def __init__(
        self,
        columns: MeasurementColumns,
        first_point: int,
        data: bytes,
        timestamps: list[float],
        rows_per_point: np.ndarray | None,
        passes: list[PositionPass],
    ) -> None:
        self.measurement_name = columns.name
        #: Name of the instrument that took the readings.
        self.instrument_name: str = columns.instrument_name
        #: Labels of the measurement's own columns, ``name (unit)``.
        self.data_columns = list(columns.data_columns)
        #: Labels of the ancestor positions, outermost first.
        self.position_columns = list(columns.position_columns)
        #: Number of the batch's first point within the scan's points of this measurement.
        self.first_point = first_point
        #: Number of points (readings) in the batch.
        self.point_count = len(timestamps)
        self._data = data
        self._timestamps = timestamps
        #: Rows of each point, or None when every point has exactly one row.
        self._rows_per_point = rows_per_point
        self._passes = passes

    def __len__(self) -> int:
        return self.row_count

    @property
    def row_count(self) -> int:
        """Number of rows (a spectrum per point gives many rows per point)."""
        if self._rows_per_point is None:
            return self.point_count
        return int(self._rows_per_point.sum())

    @cached_property
    def values(self) -> np.ndarray:
        """The readings: rows x data columns, float64, read-only."""
        return np.frombuffer(self._data, dtype=FLOAT64).reshape(-1, len(self.data_columns))

    @cached_property
    def point_index(self) -> np.ndarray:
        """The point each row belongs to."""
        points = np.arange(self.first_point, self.first_point + self.point_count, dtype=np.int64)
        return self._per_row(points)

    @cached_property
    def timestamp(self) -> np.ndarray:
        """When each row's point was taken, seconds since the epoch."""
        return self._per_row(self.point_timestamps)

    @cached_property
    def positions(self) -> dict[str, np.ndarray]:
        """The commanded position of every ancestor movement, per row."""
        return {label: self._per_row(column) for label, column in self.point_positions.items()}

    @cached_property
    def point_positions(self) -> dict[str, np.ndarray]:
        """The commanded position of every ancestor movement, per point."""
        per_point = _positions_per_point(
            self._passes, self.first_point, self.point_count, len(self.position_columns)
        )
        return dict(zip(self.position_columns, per_point, strict=True))

    @property
    def point_timestamps(self) -> np.ndarray:
        """When each point was taken, seconds since the epoch."""
        return np.array(self._timestamps, dtype=FLOAT64)

    @property
    def rows_per_point(self) -> np.ndarray | None:
        """Rows of each point, or None when every point has exactly one row."""
        return self._rows_per_point

    def columns(self) -> dict[str, np.ndarray]:
        """Every column by label: data, positions, point index, timestamp."""
        data = {label: self.values[:, i] for i, label in enumerate(self.data_columns)}
        return {
            **data,
            **self.positions,
            POINT_INDEX_COLUMN: self.point_index,
            TIMESTAMP_COLUMN: self.timestamp,
        }

    def to_dataframe(self) -> pd.DataFrame:
        """The batch as a DataFrame with ``name (unit)`` columns."""
        import pandas as pd  # on first use: importing pandas costs a lab computer's start-up

        return pd.DataFrame(self.columns(), copy=False)

    def _per_row(self, per_point: np.ndarray) -> np.ndarray:
        if self._rows_per_point is None:
            return per_point
        return np.repeat(per_point, self._rows_per_point)


def _positions_per_point(
    passes: list[PositionPass], first: int, count: int, depth: int
) -> list[np.ndarray]:
    """Rebuild each ancestor's commanded position for points ``first .. first+count``."""
    columns = [np.empty(count, dtype=FLOAT64) for _ in range(depth)]
    if depth == 0:
        return columns
    stop = first + count
    for i, step in enumerate(passes):
        end = passes[i + 1].start if i + 1 < len(passes) else stop
        low, high = max(step.start, first), min(end, stop)
        if low >= high:
            continue
        for column, value in zip(columns, step.outer, strict=False):
            column[low - first : high - first] = value
        if step.sequence is not None:
            columns[-1][low - first : high - first] = step.sequence[
                low - step.start : high - step.start
            ]
    return columns
