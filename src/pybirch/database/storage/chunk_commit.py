"""Committing a writer's encoded chunks, with the scans' progress, in one transaction.

Both ways a lab computer stores its points end here: its own writer on the database
(``DataManager``), and the server's agent gateway for a computer that holds only its token.
A chunk is keyed by (measurement, first row): one stored already is skipped, so a retried
or replayed commit stores nothing twice; with ``refuse_overlap`` a chunk that covers part
of a stored one (rows that would then be stored twice) is refused instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, update

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
            if refuse_overlap:
                for chunk in encoded:
                    chunk_store.check_no_overlap(
                        connection, measurement_id, chunk.first_row, chunk.end_row
                    )
            chunk_store.insert_chunks(connection, measurement_id, encoded)
        for scan_id, (points_done, fraction) in progress.items():
            connection.execute(
                update(Scan)
                .where(Scan.id == scan_id)
                .values(points_done=points_done, progress=fraction)
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
