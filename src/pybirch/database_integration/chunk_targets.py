"""Where a :class:`DataManager` commits its chunks: the database itself, or a stand-in.

A writer holding the database commits with :func:`commit_chunks` on its engine. A
database stand-in that stores chunks its own way (an agent's ``ServerDatabase``, which
sends them to the server's gateway) offers ``chunk_target()``; the manager uses that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pybirch.database.storage import EncodedChunk
from pybirch.database.storage.chunk_commit import Progress, commit_chunks, stored_spans


class ChunkTarget(Protocol):
    """Stores encoded chunks with the progress they bring, and says which rows it holds."""

    def commit(
        self, chunks: Mapping[int, Sequence[EncodedChunk]], progress: Mapping[int, Progress]
    ) -> None:
        """Store the chunks (by measurement id) and the scans' progress, all or nothing."""

    def stored_spans(
        self, measurement_id: int, first_row: int, end_row: int
    ) -> list[tuple[int, int]]:
        """(first row, end row) of stored chunks overlapping rows ``first_row..end_row``."""


class DatabaseChunks:
    """Chunks committed straight to the database, on its engine."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def commit(
        self, chunks: Mapping[int, Sequence[EncodedChunk]], progress: Mapping[int, Progress]
    ) -> None:
        """Store the chunks and the scans' progress in one transaction."""
        commit_chunks(self.db.engine, chunks, progress)

    def stored_spans(
        self, measurement_id: int, first_row: int, end_row: int
    ) -> list[tuple[int, int]]:
        """(first row, end row) of stored chunks overlapping rows ``first_row..end_row``."""
        return stored_spans(self.db.engine, measurement_id, first_row, end_row)


def chunk_target_for(db: Any) -> ChunkTarget:
    """The stand-in's own chunk target if it offers one, else the database's engine."""
    offered = getattr(db, "chunk_target", None)
    return offered() if callable(offered) else DatabaseChunks(db)
