"""Writing chunks to and reading row ranges from the ``measurement_chunks`` table.

Writes are idempotent: a chunk is keyed by (measurement, first row), and storing a chunk
whose key exists already is a no-op, so a replayed spool never stores a row twice.
Reads fetch only the chunks that overlap the requested rows and decode only the
requested columns.
"""

from __future__ import annotations

import functools
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
#: Largest row number a chunk can have (a signed 64-bit integer).
_MAX_ROW = int(np.iinfo(np.int64).max)
#: Compressed bytes fetched per round trip when streaming (at least one chunk).
STREAM_BYTES = 4 * 1024 * 1024


def insert_chunks(
    connection: Connection, measurement_object_id: int, chunks: Sequence[EncodedChunk]
) -> None:
    """Store ``chunks``; chunks already stored (same first row) are skipped."""
    if not chunks:
        return
    statement = _insert_statement(connection.dialect.name)
    connection.execute(statement, [_row(measurement_object_id, chunk) for chunk in chunks])


@functools.cache
def _insert_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for one dialect, built once."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[dialect_name]
    return dialect.insert(_table).on_conflict_do_nothing(
        index_elements=["measurement_object_id", "first_row"]
    )


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


def stored_spans(
    connection: Connection, measurement_object_id: int, first_row: int, end_row: int
) -> list[tuple[int, int]]:
    """(first row, end row) of the stored chunks overlapping rows ``first_row..end_row``."""
    rows = connection.execute(
        select(_table.c.first_row, _table.c.row_count)
        .where(_overlapping(measurement_object_id, first_row, end_row))
        .order_by(_table.c.first_row)
    ).all()
    return [(first, first + count) for first, count in rows]


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
    reader = _RangeReader(connection, measurement_object_id, layout, start_row, end_row, labels)
    total = sum(high - low for _, low, high in reader.spans)
    if total == 0:
        return _empty(layout, start_row, labels, **info)
    point_index = np.empty(total, dtype=np.int64)
    columns = {spec.label: np.empty(total, dtype=spec.dtype) for spec in reader.specs}
    offset = 0
    for meta, low, high, (offset_in_payload, payload) in reader.payloads():
        n = high - low
        if reader.is_whole(meta, low, high) and meta.rows_per_point == 1:
            # The common case: decompress every column straight into the result.
            targets = {
                i: columns[spec.label][offset : offset + n]
                for i, spec in enumerate(layout.columns)
                if spec.label in columns
            }
            encoded = EncodedChunk.from_meta(meta._mapping, payload, offset_in_payload)
            decode(encoded, layout, reader.wanted, targets)
            point_index[offset : offset + n] = np.arange(meta.first_point, meta.first_point + n)
        else:
            _, index, values = reader.part(meta, low, high, (offset_in_payload, payload))
            point_index[offset : offset + n] = index
            for label, column in values.items():
                columns[label][offset : offset + n] = column
        offset += n
    return MeasurementData(
        name=info.get("name", ""),
        layout=layout,
        first_row=reader.spans[0][1],
        point_index=point_index,
        columns=columns,
        point_shape=info.get("point_shape"),
        units=layout.units(),
        rows=None if reader.contiguous else reader.row_numbers(),
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
    """The rows of each stored chunk in the range, about one chunk in memory at a time."""
    reader = _RangeReader(connection, measurement_object_id, layout, start_row, end_row, labels)
    units = layout.units()
    for first_row, index, values in reader.chunks():
        yield MeasurementData(
            name=info.get("name", ""),
            layout=layout,
            first_row=first_row,
            point_index=index,
            columns=values,
            point_shape=info.get("point_shape"),
            units=units,
        )


class _RangeReader:
    """The chunks overlapping a row range, fetched in groups and decoded one by one."""

    def __init__(
        self,
        connection: Connection,
        measurement_object_id: int,
        layout: Layout,
        start_row: int,
        end_row: int | None,
        labels: Sequence[str] | None,
    ) -> None:
        self.connection = connection
        self.layout = layout
        self.wanted = {layout.index(label) for label in labels} if labels is not None else None
        self.specs = [
            spec for i, spec in enumerate(layout.columns) if self.wanted is None or i in self.wanted
        ]
        # A row number past the largest 64-bit integer (from_row + a page) means "to the end".
        end = _MAX_ROW if end_row is None else min(end_row, _MAX_ROW)
        self.metas = (
            connection.execute(
                select(*_META)
                .where(_overlapping(measurement_object_id, start_row, end))
                .order_by(_table.c.first_row)
            ).all()
            if end > start_row
            else []
        )
        #: (chunk meta, first row read, one past the last row read) per chunk.
        self.spans = [
            (meta, max(start_row, meta.first_row), min(end, meta.first_row + meta.row_count))
            for meta in self.metas
        ]
        self.contiguous = all(
            later[1] == earlier[2]
            for earlier, later in zip(self.spans, self.spans[1:], strict=False)
        )

    def row_numbers(self) -> np.ndarray:
        """Index of every row read (they have gaps when chunks are missing)."""
        return np.concatenate([np.arange(low, high) for _, low, high in self.spans])

    def payloads(self) -> Iterator[tuple[Any, int, int, tuple[int, bytes]]]:
        """(chunk meta, first row read, one past the last, (offset, payload part))."""
        for group in _groups_by_size(self.spans):
            chunks = [EncodedChunk.from_meta(meta._mapping, b"") for meta, _, _ in group]
            spans = {
                meta.id: chunk.frame_span(self.wanted)
                if self.wanted is not None
                else (0, sum(chunk.frame_sizes))
                for (meta, _, _), chunk in zip(group, chunks, strict=True)
            }
            payloads = _fetch_payloads(self.connection, spans)
            for meta, low, high in group:
                yield meta, low, high, payloads[meta.id]

    def chunks(self) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """(first row, point index per row, columns per row) of each chunk's part."""
        for meta, low, high, payload in self.payloads():
            yield self.part(meta, low, high, payload)

    def part(
        self, meta: Any, low: int, high: int, payload: tuple[int, bytes]
    ) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
        """Rows ``low..high`` of one chunk: first row, point index, columns per row."""
        offset, part = payload
        encoded = EncodedChunk.from_meta(meta._mapping, part, offset)
        chunk = decode(encoded, self.layout, self.wanted)
        index, values = _per_row(chunk, self.layout)
        cut = slice(low - meta.first_row, high - meta.first_row)
        return low, index[cut], {label: column[cut] for label, column in values.items()}

    @staticmethod
    def is_whole(meta: Any, low: int, high: int) -> bool:
        """True if rows ``low..high`` are the whole chunk."""
        return low == meta.first_row and high == meta.first_row + meta.row_count


def _per_row(chunk: ChunkData, layout: Layout) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The chunk's point index and decoded columns, per-point columns repeated per row."""
    repeats: Any = chunk.rows_per_point if chunk.rows_per_point is not None else chunk.point_rows
    single = isinstance(repeats, int) and repeats == 1

    def expand(values: np.ndarray) -> np.ndarray:
        return values if single else np.repeat(values, repeats)

    points = np.arange(chunk.first_point, chunk.first_point + chunk.point_count, dtype=np.int64)
    values = {
        spec.label: expand(column) if spec.per_point else column
        for spec, column in zip(layout.columns, chunk.columns, strict=True)
        if column is not None
    }
    return expand(points), values


def _fetch_payloads(
    connection: Connection, spans: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, bytes]]:
    """The bytes ``start..end`` of each chunk's payload by id, with their start.

    PostgreSQL sends only those bytes (payloads are stored uncompressed by TOAST, so the
    server slices without reading the rest), in binary (bytea as text is hex, twice the
    size). SQLite reads whole payloads, which costs it nothing extra.
    """
    ids = list(spans)
    if connection.dialect.name == "postgresql":
        starts = [spans[key][0] for key in ids]
        lengths = [spans[key][1] - spans[key][0] for key in ids]
        driver = connection.connection.driver_connection
        with driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
            cursor.execute(
                "SELECT c.id, substring(c.payload FROM v.start + 1 FOR v.length) "
                "FROM measurement_chunks AS c "
                "JOIN unnest(%s::bigint[], %s::int[], %s::int[]) AS v(id, start, length) "
                "ON c.id = v.id",
                [ids, starts, lengths],
            )
            return {int(key): (spans[int(key)][0], bytes(part)) for key, part in cursor.fetchall()}
    rows = connection.execute(select(_table.c.id, _table.c.payload).where(_table.c.id.in_(ids)))
    return {key: (0, payload) for key, payload in rows.all()}


def _groups_by_size(spans: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Consecutive chunks whose payloads add up to about :data:`STREAM_BYTES`."""
    start, size = 0, 0
    for i, (meta, _, _) in enumerate(spans):
        size += sum(meta.frame_sizes)
        if size >= STREAM_BYTES:
            yield spans[start : i + 1]
            start, size = i + 1, 0
    if start < len(spans):
        yield spans[start:]


def _overlapping(measurement_object_id: int, first_row: int, end_row: int) -> Any:
    """Chunks holding any of rows ``first_row..end_row``, found by a bounded index range.

    Stored chunks never overlap, so the one holding ``first_row`` starts at the greatest
    first row up to it: bounding the range from below by it lets the (measurement, first
    row) index seek there, instead of scanning every earlier chunk of a long measurement.
    """
    same = _table.c.measurement_object_id == measurement_object_id
    holder = (
        select(func.max(_table.c.first_row))
        .where(same, _table.c.first_row <= first_row)
        .scalar_subquery()
    )
    return and_(
        same,
        _table.c.first_row >= func.coalesce(holder, first_row),
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
