"""Committing a writer's encoded chunks, with the scans' progress, in one transaction.

Both ways a lab computer stores its points end here: its own writer on the database
(``DataManager``), and the server's agent gateway for a computer that holds only its token.
A chunk is keyed by (measurement, first row): one stored already is skipped, so a retried
or replayed commit stores nothing twice; with ``refuse_overlap`` a chunk that covers part
of a stored one (rows that would then be stored twice) is refused instead.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, update

from pybirch.database.errors import DataIntegrityError
from pybirch.database.models import Scan
from pybirch.database.storage import chunks as chunk_store
from pybirch.database.storage.codec import EncodedChunk, known_codec
from pybirch.database.storage.layout import Layout

#: A scan's progress as a commit brings it: (points done, fraction done).
Progress = tuple[int, float | None]


def commit_chunks(
    engine: Engine,
    chunks: Mapping[int, Sequence[EncodedChunk]],
    progress: Mapping[int, Progress],
    *,
    refuse_overlap: bool = False,
) -> None:
    """Store chunks by measurement id and set each scan's progress, in one transaction."""
    with engine.begin() as connection:
        for measurement_id, encoded in chunks.items():
            if refuse_overlap and encoded:
                _check_no_overlap(connection, measurement_id, encoded)
            chunk_store.insert_chunks(connection, measurement_id, encoded)
        for scan_id, (points_done, fraction) in progress.items():
            connection.execute(
                update(Scan)
                .where(Scan.id == scan_id)
                .values(points_done=points_done, progress=fraction)
            )


def _check_no_overlap(
    connection: Connection, measurement_id: int, encoded: Sequence[EncodedChunk]
) -> None:
    """Raise :class:`DataIntegrityError` if a chunk covers part of a stored one (one query).

    A stored chunk with the same first row and length is a replay (skipped on insert).
    """
    ordered = sorted(encoded, key=lambda chunk: chunk.first_row)
    for earlier, later in itertools.pairwise(ordered):
        if later.first_row < earlier.end_row:
            raise DataIntegrityError(
                f"rows {later.first_row}..{later.end_row - 1} overlap rows "
                f"{earlier.first_row}..{earlier.end_row - 1} sent with them"
            )
    first = min(chunk.first_row for chunk in encoded)
    end = max(chunk.end_row for chunk in encoded)
    spans = chunk_store.stored_spans(connection, measurement_id, first, end)
    starts = [low for low, _ in spans]
    for chunk in encoded:
        # Stored spans do not overlap each other: those touching the chunk are consecutive.
        index = max(0, bisect.bisect_right(starts, chunk.first_row) - 1)
        for low, high in spans[index:]:
            if low >= chunk.end_row:
                break
            if high > chunk.first_row and (low, high) != (chunk.first_row, chunk.end_row):
                raise DataIntegrityError(
                    f"rows {chunk.first_row}..{chunk.end_row - 1} overlap stored rows "
                    f"{low}..{high - 1}"
                )


def stored_spans(
    engine: Engine, measurement_id: int, first_row: int, end_row: int
) -> list[tuple[int, int]]:
    """(first row, end row) of the stored chunks overlapping rows ``first_row..end_row``."""
    with engine.connect() as connection:
        return chunk_store.stored_spans(connection, measurement_id, first_row, end_row)


def check_encoded(chunk: EncodedChunk, layout: Layout) -> None:
    """Raise :class:`DataIntegrityError` unless the chunk's counts and frames fit ``layout``.

    For chunks made elsewhere (an agent's): the frames are not decompressed, but a chunk
    whose frames, counts or codec could not be read back is refused before it is stored.
    """
    frames = len(layout.columns) + (1 if chunk.rows_per_point is None else 0)
    problems = []
    if chunk.first_row < 0 or chunk.first_point < 0:
        problems.append("a negative first row or point")
    if chunk.row_count <= 0 or chunk.point_count <= 0:
        problems.append("no rows or no points")
    if chunk.rows_per_point is not None and (
        chunk.rows_per_point <= 0 or chunk.rows_per_point * chunk.point_count != chunk.row_count
    ):
        problems.append(f"{chunk.point_count} points x {chunk.rows_per_point} rows")
    if len(chunk.frame_sizes) != frames:
        problems.append(f"{len(chunk.frame_sizes)} frames for {frames}")
    if any(size < 0 for size in chunk.frame_sizes) or sum(chunk.frame_sizes) != len(chunk.payload):
        problems.append("frame sizes that do not add up to its payload")
    if not known_codec(chunk.codec):
        problems.append(f"an unknown codec {chunk.codec!r}")
    if problems:
        raise DataIntegrityError(
            f"chunk at row {chunk.first_row} has " + ", ".join(problems) + "; it is not stored"
        )
