"""Writing chunks to and reading row ranges from the ``measurement_chunks`` table.

Writes are idempotent: a chunk is keyed by (measurement, first row), and storing a chunk
whose key exists already is a no-op, so a replayed spool never stores a row twice.
Reads fetch only the chunks that overlap the requested rows and decode only the
requested columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from pybirch.database.errors import DataIntegrityError
from pybirch.database.models import MeasurementChunk, utcnow
from pybirch.database.storage.codec import ChunkData, EncodedChunk, decode
from pybirch.database.storage.layout import Layout
from pybirch.database.storage.measurement_data import MeasurementData

_table = MeasurementChunk.__table__
_META = (
    _table.c.id,
    _table.c.first_row,
    _table.c.row_count,
    _table.c.first_point,
    _table.c.point_count,
    _table.c.rows_per_point,
    _table.c.codec,
    _table.c.frame_sizes,
)
#: Compressed bytes fetched per round trip when streaming (at least one chunk).
STREAM_BYTES = 4 * 1024 * 1024


def insert_chunks(
    connection: Connection, measurement_object_id: int, chunks: Sequence[EncodedChunk]
) -> None:
    """Store ``chunks``; chunks already stored (same first row) are skipped."""
    if not chunks:
        return
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[connection.dialect.name]
    statement = dialect.insert(_table).on_conflict_do_nothing(
        index_elements=["measurement_object_id", "first_row"]
    )
    connection.execute(statement, [_row(measurement_object_id, chunk) for chunk in chunks])


def check_no_overlap(
    connection: Connection, measurement_object_id: int, first_row: int, end_row: int
) -> None:
    """Raise :class:`DataIntegrityError` if rows ``first_row..end_row`` are partly stored.

    A chunk starting exactly at ``first_row`` with the same length is a replay, not an
    overlap.
    """
    clash = connection.execute(
        select(_table.c.first_row, _table.c.row_count)
        .where(_overlapping(measurement_object_id, first_row, end_row))
        .limit(2)
    ).all()
    for stored_first, stored_count in clash:
        if (stored_first, stored_first + stored_count) != (first_row, end_row):
            raise DataIntegrityError(
                f"rows {first_row}..{end_row - 1} overlap stored rows "
                f"{stored_first}..{stored_first + stored_count - 1}"
            )


def count(connection: Connection, measurement_object_id: int) -> tuple[int, int]:
    """(rows, points) stored for a measurement."""
    rows, points = connection.execute(
        select(
            func.coalesce(func.sum(_table.c.row_count), 0),
            func.coalesce(func.sum(_table.c.point_count), 0),
        ).where(_table.c.measurement_object_id == measurement_object_id)
    ).one()
    return int(rows), int(points)


def read_range(
    connection: Connection,
    measurement_object_id: int,
    layout: Layout,
    start_row: int = 0,
    end_row: int | None = None,
    labels: Sequence[str] | None = None,
    **info: Any,
) -> MeasurementData:
    """Rows ``start_row`` to ``end_row`` (exclusive; None for all) of one measurement."""
    pieces = list(
        iter_ranges(connection, measurement_object_id, layout, start_row, end_row, labels, **info)
    )
    if not pieces:
        return _empty(layout, start_row, labels, **info)
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    return MeasurementData(
        name=first.name,
        layout=layout,
        first_row=first.first_row,
        point_index=np.concatenate([piece.point_index for piece in pieces]),
        columns={
            label: np.concatenate([piece.columns[label] for piece in pieces])
            for label in first.columns
        },
        point_shape=first.point_shape,
        units=first.units,
        rows=np.concatenate([piece.row_index for piece in pieces]),
    )


def iter_ranges(
    connection: Connection,
    measurement_object_id: int,
    layout: Layout,
    start_row: int = 0,
    end_row: int | None = None,
    labels: Sequence[str] | None = None,
    **info: Any,
) -> Iterator[MeasurementData]:
    """The rows of each stored chunk in the range, one chunk in memory at a time."""
    wanted = {layout.index(label) for label in labels} if labels is not None else None
    end = np.iinfo(np.int64).max if end_row is None else end_row
    if end <= start_row:
        return
    metas = connection.execute(
        select(*_META)
        .where(_overlapping(measurement_object_id, start_row, end))
        .order_by(_table.c.first_row)
    ).all()
    for group in _groups_by_size(metas):
        payloads = dict(
            connection.execute(
                select(_table.c.id, _table.c.payload).where(
                    _table.c.id.in_([meta.id for meta in group])
                )
            ).all()
        )
        for meta in group:
            encoded = EncodedChunk.from_meta(meta._mapping, payloads[meta.id])
            data = _to_rows(decode(encoded, layout, wanted), layout, **info)
            yield _slice(data, start_row, end)


def _groups_by_size(metas: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Consecutive chunks whose payloads add up to about :data:`STREAM_BYTES`."""
    start, size = 0, 0
    for i, meta in enumerate(metas):
        size += sum(meta.frame_sizes)
        if size >= STREAM_BYTES:
            yield metas[start : i + 1]
            start, size = i + 1, 0
    if start < len(metas):
        yield metas[start:]


def _overlapping(measurement_object_id: int, first_row: int, end_row: int) -> Any:
    return and_(
        _table.c.measurement_object_id == measurement_object_id,
        _table.c.first_row < end_row,
        _table.c.first_row + _table.c.row_count > first_row,
    )


def _row(measurement_object_id: int, chunk: EncodedChunk) -> dict[str, Any]:
    return {
        **chunk.meta(),
        "measurement_object_id": measurement_object_id,
        "payload": chunk.payload,
        "created_at": utcnow(),
    }


def _to_rows(chunk: ChunkData, layout: Layout, **info: Any) -> MeasurementData:
    """Expand per-point columns to one value per row."""
    points = np.arange(chunk.first_point, chunk.first_point + chunk.point_count, dtype=np.int64)
    repeats: int | np.ndarray = (
        chunk.rows_per_point if chunk.rows_per_point is not None else chunk.point_rows  # type: ignore[assignment]
    )

    def per_row(values: np.ndarray) -> np.ndarray:
        return values if isinstance(repeats, int) and repeats == 1 else np.repeat(values, repeats)

    columns = {
        spec.label: per_row(column) if spec.per_point else column
        for spec, column in zip(layout.columns, chunk.columns, strict=True)
        if column is not None
    }
    return MeasurementData(
        name=info.get("name", ""),
        layout=layout,
        first_row=chunk.first_row,
        point_index=per_row(points),
        columns=columns,
        point_shape=info.get("point_shape"),
        units=layout.units(),
    )


def _slice(data: MeasurementData, start_row: int, end_row: int) -> MeasurementData:
    low = max(0, start_row - data.first_row)
    high = min(len(data), end_row - data.first_row)
    if low == 0 and high == len(data):
        return data
    return MeasurementData(
        name=data.name,
        layout=data.layout,
        first_row=data.first_row + low,
        point_index=data.point_index[low:high],
        columns={label: column[low:high] for label, column in data.columns.items()},
        point_shape=data.point_shape,
        units=data.units,
        rows=None if data.rows is None else data.rows[low:high],
    )


def _empty(
    layout: Layout, start_row: int, labels: Sequence[str] | None, **info: Any
) -> MeasurementData:
    chosen = labels if labels is not None else layout.labels
    return MeasurementData(
        name=info.get("name", ""),
        layout=layout,
        first_row=start_row,
        point_index=np.empty(0, dtype=np.int64),
        columns={
            label: np.empty(0, dtype=layout.columns[layout.index(label)].dtype) for label in chosen
        },
        point_shape=info.get("point_shape"),
        units=layout.units(),
    )
