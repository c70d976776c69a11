"""DataManager: every batch spooled, then merged, compressed and committed in order.

``write_batch`` runs on the scan's extension thread: it appends the batch's rows to the
local spool (uncompressed, checksummed: the cheapest durable copy) and queues them. One
writer thread per manager gathers queued batches for a moment, merges consecutive
batches of a measurement into chunks of a few megabytes, compresses them and commits
them in one transaction; each spool file goes once its batches are committed. When the
database is unreachable the writer keeps the work queued and retries; the scan goes on
measuring until the queue is full (see below). Status updates travel the same queue, so
the database sees a scan's data before its end.

The queue is bounded (:attr:`DataManager.max_queued_bytes`): when the writer falls that far
behind, ``write_batch`` waits until it catches up, which makes the scan wait at its next
point boundary (its extensions' queue fills), and the log says so. Nothing is dropped:
the batches waiting are in the engine's point journal, those queued in the spool. The
spool itself holds only what is not committed yet (see :class:`Spool`).

A manager replays spool files and point journals left by dead processes when it starts;
rows already stored (perhaps inside a merged chunk) are skipped, so nothing is stored
twice. The spool folder is the database's own (named by its identity row, whatever the
URL); spools found for any other database are reported with a warning and kept.

A lab computer that holds only its token commits through the server instead (its
``ServerDatabase`` offers a chunk target, :mod:`pybirch.database_integration.chunk_targets`):
the same spool, merging and compression; a batch leaves the spool once the server answered,
which it does after its own commit.

Point journals (:mod:`pybirch.scan.journal`) hold what the engine measured but had not
batched yet: the manager hands one to each measurement of a scan (``open_journal``) and
releases its points once their batch is in the spool.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from pybirch.database import DatabaseService
from pybirch.database.errors import DatabaseUnreachableError, DataIntegrityError
from pybirch.database.storage import ChunkData, EncodedChunk, Layout, decode, encode
from pybirch.database.storage.chunk_commit import Progress
from pybirch.database.storage.codec import RAW_CODEC, concatenate
from pybirch.database_integration.chunk_targets import chunk_target_for
from pybirch.database_integration.serializers import batch_layout, batch_to_chunk
from pybirch.database_integration.spool import (
    JOURNALS,
    Spool,
    SpoolRecord,
    SpoolSegment,
    is_legacy_directory,
    legacy_spool_directory,
    orphaned_spools,
    read_records,
    spool_directory,
    spool_root,
    unowned_contents,
)
from pybirch.orphaned_files import OrphanedFile
from pybirch.scan.batch import DataBatch, MeasurementColumns
from pybirch.scan.journal import (
    JournalSegment,
    PointJournal,
    UnwrittenSegmentError,
    orphaned_journals,
    read_segment,
)

log = logging.getLogger(__name__)

#: Batches committed in one transaction at most.
MAX_CHUNKS_PER_COMMIT = 64
#: Consecutive batches of a measurement are merged into chunks of about this many raw
#: bytes: big enough that reading decodes few chunks, small enough to stream.
MERGED_CHUNK_BYTES = 4 * 1024 * 1024
#: Seconds the writer gathers chunks before a commit (fewer, bigger transactions).
COMMIT_INTERVAL = 0.1
#: Longest wait between two attempts while the database is away (seconds).
MAX_RETRY_DELAY = 2.0
#: Bytes of batches queued for the writer after which producers wait (back-pressure).
MAX_QUEUED_BYTES = 64 * 1024 * 1024
#: Seconds between two log lines about waiting for the writer (a slow writer waits often).
WAIT_LOG_INTERVAL = 10.0


@dataclass
class _ChunkWork:
    scan_id: int
    measurement: str
    layout: Layout
    point_shape: list[int] | None
    #: The batch's rows, uncompressed; merged with its neighbours when committed.
    rows: ChunkData
    #: The same rows as spooled (raw frames with checksums).
    chunk: EncodedChunk
    instrument: str | None = None
    layout_json: list[dict[str, Any]] | None = None
    points_done: int | None = None
    progress: float | None = None
    #: The spool file holding the batch, released once it is committed.
    segment: SpoolSegment | None = None

    @property
    def nbytes(self) -> int:
        """Memory the queued batch holds (its spooled copy and its columns)."""
        return 2 * len(self.chunk.payload)


@dataclass
class _CallWork:
    description: str
    scan_id: int | None
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _MeasurementCursor:
    """Where a measurement's next batch starts, and its layout (worked out once)."""

    next_row: int = 0
    layout: Layout | None = None
    layout_json: list[dict[str, Any]] = field(default_factory=list)


def is_transient(exc: BaseException) -> bool:
    """True for errors that mean "the database is unreachable or busy; try again"."""
    if isinstance(exc, OperationalError | InterfaceError | DatabaseUnreachableError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class DataManager:
    """Buffered, compressed, thread-safe persistence of measurement batches."""

    def __init__(
        self,
        db: DatabaseService,
        *,
        replay: bool = True,
        commit_wait: float = 600.0,
        fsync: bool | None = None,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
    ) -> None:
        self.db = db
        #: Seconds a scan's end waits for its data to be committed (database away).
        self.commit_wait = commit_wait
        #: Bytes of batches queued for the writer beyond which ``write_batch`` waits.
        self.max_queued_bytes = max_queued_bytes
        #: How often a producer waited for the writer, and for how long in all (seconds).
        self.waits = 0
        self.waited = 0.0
        self._wait_logged_at: float | None = None
        #: The database's own identity: its spool folder, however the URL is spelled.
        self.identity = db.database_identity()
        self.spool_directory = spool_directory(self.identity)
        #: Where chunks are committed: the database's engine, or the server's gateway.
        self.chunks = chunk_target_for(db)
        #: Point journals handed out, by (scan id, measurement), released as batches spool.
        self._journals: weakref.WeakValueDictionary[tuple[int, str], PointJournal] = (
            weakref.WeakValueDictionary()
        )
        #: Errors that dropped work (the data is kept in the spool for the next start).
        self.errors: list[tuple[int | None, BaseException]] = []
        #: Chunks found in dead processes' spools and stored at start-up.
        self.replayed_chunks = 0
        self._fsync = fsync
        self._spool: Spool | None = None
        self._cursors: dict[tuple[int, str], _MeasurementCursor] = defaultdict(_MeasurementCursor)
        self._measurement_ids: dict[tuple[int, str], int] = {}
        self._work: deque[_ChunkWork | _CallWork] = deque()
        self._queued_bytes = 0
        self._waiting = 0
        self._busy = False
        self._closed = False
        self._flushing = 0
        self._last_commit = 0.0
        self._outage_since: float | None = None
        self._cond = threading.Condition()
        if replay:
            self.replay_spools()
        self._writer = threading.Thread(target=self._run, name="pybirch-db-writer", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"<DataManager {self.db.url} queued={self.queued}>"

    @property
    def queued(self) -> int:
        """Work items not yet committed."""
        with self._cond:
            return len(self._work) + self._busy

    # -- producers (any thread) ----------------------------------------------------------

    def write_batch(
        self,
        scan_id: int,
        batch: DataBatch,
        points_done: int | None = None,
        progress: float | None = None,
    ) -> None:
        """Spool one batch of a scan and queue it for the database."""
        key = (scan_id, batch.measurement_name)
        with self._cond:
            self._check_open()
            cursor = self._cursors[key]
            first_row = cursor.next_row
            cursor.next_row += batch.row_count
            if cursor.layout is None:
                cursor.layout = batch_layout(batch)
                cursor.layout_json = cursor.layout.to_json()
        work = _work_from_batch(scan_id, batch, first_row, cursor.layout, cursor.layout_json)
        work.points_done, work.progress = points_done, progress
        with self._cond:
            self._wait_for_room_locked(scan_id)
            self._check_open()  # closed while waiting: the batch stays in the journal
            work.segment = self._spool_locked().append(_spool_header(work), work.chunk.payload)
            journal = self._journals.get(key)
            self._queued_bytes += work.nbytes
            self._work.append(work)
            # Wake the writer only when it sleeps for lack of work or has a full load;
            # while it gathers, every wake-up would cost the measuring thread the GIL.
            if len(self._work) == 1 or len(self._work) >= MAX_CHUNKS_PER_COMMIT:
                self._cond.notify_all()
        if journal is not None:  # the batch is in the spool now: the journal may forget it
            journal.release(batch.first_point + batch.point_count)

    def _wait_for_room_locked(self, scan_id: int) -> None:
        """Back-pressure: wait while the writer is :attr:`max_queued_bytes` behind."""
        if self._queued_bytes < self.max_queued_bytes:
            return
        started = time.monotonic()
        logged = self._log_wait_locked(scan_id, started)
        self._waiting += 1
        self._cond.notify_all()  # the writer stops gathering and commits now
        try:
            while self._queued_bytes >= self.max_queued_bytes and not self._closed:
                self._cond.wait()
        finally:
            self._waiting -= 1
        waited = time.monotonic() - started
        self.waits += 1
        self.waited += waited
        if logged:
            log.info("scan %d goes on after waiting %.2f s for the writer", scan_id, waited)

    def _log_wait_locked(self, scan_id: int, now: float) -> bool:
        """Say that a scan waits, at most every :data:`WAIT_LOG_INTERVAL`; True if said."""
        if self._wait_logged_at is not None and now - self._wait_logged_at < WAIT_LOG_INTERVAL:
            return False
        self._wait_logged_at = now
        log.warning(
            "scan %d waits at a point boundary: the database writer is %d items "
            "(%.1f MiB) behind; the spool holds %s (%d waits, %.1f s in all before this)",
            scan_id,
            len(self._work),
            self._queued_bytes / 2**20,
            self._spool_locked().describe(),
            self.waits,
            self.waited,
        )
        return True

    def open_journal(self, scan_id: int, columns: MeasurementColumns) -> PointJournal:
        """A point journal for one measurement of a scan, in this database's spool folder."""
        journal = PointJournal(self.spool_directory / JOURNALS, columns, {"scan_id": scan_id})
        with self._cond:
            self._journals[(scan_id, columns.name)] = journal
        return journal

    def call(
        self,
        description: str,
        function: Callable[..., Any],
        *args: Any,
        scan_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Run ``function(*args, **kwargs)`` on the writer, after the work queued before it."""
        with self._cond:
            self._check_open()
            self._work.append(_CallWork(description, scan_id, function, args, kwargs))
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._work or self._busy:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def errors_for(self, scan_id: int) -> list[BaseException]:
        """Errors that dropped work of one scan."""
        with self._cond:
            return [error for owner, error in self.errors if owner == scan_id]

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued (waiting up to ``timeout``, default ``commit_wait``), stop."""
        if not self.flush(self.commit_wait if timeout is None else timeout):
            with self._cond:
                held = self._spool_locked().describe()
            log.error(
                "database %s: %d items not committed at close; their data stays in the "
                "spool (%s) and is stored at the next start",
                self.db.url,
                self.queued,
                held,
            )
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join(timeout=5)
        with self._cond:
            if self._spool is not None:
                self._spool.close()
                self._spool = None

    # -- start-up replay -------------------------------------------------------------------

    def replay_spools(self) -> int:
        """Store what dead writers left (spools, then journals); returns how many chunks.

        Spools of this database kept under its URL by PyBirch before database identities
        are replayed too; spools of any other database are reported with a warning.
        """
        legacy = legacy_spool_directory(self.db.url)
        stored = self._replay_spool_files(legacy) + self._replay_spool_files(self.spool_directory)
        stored += self._replay_journals(self.spool_directory / JOURNALS)
        _remove_if_empty(legacy)
        self._warn_about_foreign_spools(legacy)
        self.replayed_chunks += stored
        return stored

    def _replay_spool_files(self, directory: Path) -> int:
        """Store the batches of dead writers' spool files that no chunk holds yet."""
        return self._replay(
            orphaned_spools(directory),
            "spool",
            lambda path: self._not_yet_stored([_work_from_record(r) for r in read_records(path)]),
        )

    def _replay_journals(self, directory: Path) -> int:
        """Store the points of dead writers' journals that no chunk holds yet."""
        return self._replay(
            orphaned_journals(directory),
            "journal",
            self._journal_file_works,
        )

    def _journal_file_works(self, path: Path) -> list[_ChunkWork]:
        """What a journal file holds that is not stored yet (nothing if it was never written)."""
        try:
            segment = read_segment(path)
        except UnwrittenSegmentError as exc:
            log.info("%s: it holds no point and goes", exc)
            return []
        return self._journal_works(segment)

    def _replay(
        self,
        orphans: Iterable[OrphanedFile],
        kind: str,
        works_of: Callable[[Path], list[_ChunkWork]],
    ) -> int:
        """Commit what each orphaned file holds; a file goes only once all of it is stored."""
        stored = 0
        for orphan in orphans:
            replayed = False
            try:
                works = works_of(orphan.path)
                for start in range(0, len(works), MAX_CHUNKS_PER_COMMIT):
                    self._commit_chunks(works[start : start + MAX_CHUNKS_PER_COMMIT])
                stored += len(works)
                replayed = True
                log.info("replayed %d chunks from %s %s", len(works), kind, orphan.path)
            except Exception as exc:
                log.error("cannot replay %s %s yet; it is kept", kind, orphan.path, exc_info=exc)
            finally:
                orphan.release(delete=replayed)
        return stored

    def _journal_works(self, segment: JournalSegment) -> list[_ChunkWork]:
        """The journal's points that are not stored yet, as chunks keyed by their first row."""
        rows = segment.rows_per_point()
        if rows.size == 0:
            return []
        scan_id = segment.tag["scan_id"]
        whole = segment.batch(segment.first_point, segment.first_point + rows.size)
        probe = _work_from_batch(scan_id, whole, segment.first_row)
        # Row number where each point starts, and one past the last row.
        bounds = segment.first_row + np.concatenate(([0], np.cumsum(rows)))
        first, end = int(bounds[0]), int(bounds[-1])
        spans = self.chunks.stored_spans(self._measurement_id(probe), first, end)
        works = []
        for low, high in _gaps(first, end, spans):
            start, stop = np.searchsorted(bounds, [low, high])
            if bounds[start] != low or bounds[stop] != high:
                raise DataIntegrityError(
                    f"journal {segment.path}: stored rows of {segment.columns.name!r} end "
                    f"inside a point ({low}..{high - 1})"
                )
            point = segment.first_point
            batch = segment.batch(point + int(start), point + int(stop))
            works.append(_work_from_batch(scan_id, batch, low, probe.layout, probe.layout_json))
        return works

    def _warn_about_foreign_spools(self, legacy: Path) -> None:
        """Warn loudly about spools this database cannot take: they belong to another one."""
        root = spool_root()
        if not root.is_dir():
            return
        for directory in sorted(root.iterdir()):
            if directory in (self.spool_directory, legacy) or not directory.is_dir():
                continue
            contents = unowned_contents(directory)
            if not contents.files:
                continue
            if is_legacy_directory(directory):
                owner = "a database URL of an older PyBirch (replayed when that URL is used)"
            else:
                owner = f"database identity {directory.name}"
            log.warning(
                "spool %s holds points no database has stored (%s); it belongs to %s, not "
                "to this database (%s, identity %s), and is kept until PyBirch starts with "
                "that database",
                directory,
                contents.describe(),
                owner,
                self.db.url,
                self.identity,
            )

    # -- the writer ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._work and not self._closed:
                    self._cond.wait()
                if not self._work:
                    return
                self._gather_locked()
                batch = self._take_locked()
                self._busy = True
            try:
                self._process(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _gather_locked(self) -> None:
        """Let chunks pile up for a moment: one transaction for many is far cheaper."""
        deadline = self._last_commit + COMMIT_INTERVAL
        while (
            not self._closed
            and not self._flushing
            and not self._waiting
            and len(self._work) < MAX_CHUNKS_PER_COMMIT
            and isinstance(self._work[0], _ChunkWork)
            and time.monotonic() < deadline
        ):
            self._cond.wait(deadline - time.monotonic())

    def _take_locked(self) -> list[_ChunkWork] | _CallWork:
        """The next call, or the next run of consecutive chunks."""
        if isinstance(self._work[0], _CallWork):
            return self._work.popleft()  # type: ignore[return-value]
        run: list[_ChunkWork] = []
        while self._work and isinstance(self._work[0], _ChunkWork):
            run.append(self._work.popleft())  # type: ignore[arg-type]
            if len(run) == MAX_CHUNKS_PER_COMMIT:
                break
        return run

    def _process(self, work: list[_ChunkWork] | _CallWork) -> None:
        if isinstance(work, _CallWork):
            self._with_retry(
                work.description, work.scan_id, lambda: work.function(*work.args, **work.kwargs)
            )
            return
        stored = self._with_retry(
            f"storing {len(work)} chunks", work[0].scan_id, lambda: self._commit_chunks(work)
        )
        self._last_commit = time.monotonic()
        # Closed while the database (or the server) is away: the chunks stay in the spool,
        # which the next start replays; only chunks the database refused are set aside.
        kept = not stored and self._abandoned()
        if not stored and not kept:
            self._set_aside(work)
        with self._cond:
            for each in work:
                self._queued_bytes -= each.nbytes
                if each.segment is not None and self._spool is not None and not kept:
                    self._spool.release(each.segment)

    def _set_aside(self, works: list[_ChunkWork]) -> None:
        """Keep chunks the database refused in ``rejected/``, out of the replayed spool."""
        rejected = Spool(self.spool_directory / "rejected", fsync=True)
        try:
            for work in works:
                rejected.append(_spool_header(work), work.chunk.payload)
        finally:
            rejected.close()
        log.error(
            "database %s refused %d chunks; they are kept in %s for inspection",
            self.db.url,
            len(works),
            rejected.directory,
        )

    def _with_retry(self, description: str, scan_id: int | None, action: Callable[[], Any]) -> bool:
        """Run ``action`` until it succeeds or fails for a reason retrying cannot fix."""
        delay = 0.05
        while True:
            try:
                action()
            except Exception as exc:
                if is_transient(exc) and not self._abandoned():
                    self._note_outage(description, exc)
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY)
                    continue
                log.error(
                    "database %s: %s failed; the work is dropped (spooled data is kept)",
                    self.db.url,
                    description,
                    exc_info=exc,
                )
                with self._cond:
                    self.errors.append((scan_id, exc))
                return False
            if self._outage_since is not None:
                log.warning(
                    "database %s is reachable again after %.1f s",
                    self.db.url,
                    time.monotonic() - self._outage_since,
                )
                self._outage_since = None
            return True

    def _abandoned(self) -> bool:
        with self._cond:
            return self._closed

    def _note_outage(self, description: str, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "database %s unreachable while %s (%s); retrying, data is kept in the spool",
                self.db.url,
                description,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )

    def _not_yet_stored(self, works: list[_ChunkWork]) -> list[_ChunkWork]:
        """Spooled batches whose rows are not stored yet (stored ones may sit in merged chunks)."""
        if not works:
            return works
        fresh = []
        for work in works:
            first, end = work.chunk.first_row, work.chunk.end_row
            spans = self.chunks.stored_spans(self._measurement_id(work), first, end)
            covered = sum(min(end, high) - max(first, low) for low, high in spans)
            if covered == 0:
                fresh.append(work)
            elif covered != end - first:
                raise DataIntegrityError(
                    f"spooled rows {first}..{end - 1} of {work.measurement!r} are partly "
                    f"stored already"
                )
        return fresh

    def _commit_chunks(self, works: list[_ChunkWork]) -> None:
        """Store batches, merged per measurement, with the progress they bring: one transaction."""
        groups: dict[int, list[_ChunkWork]] = defaultdict(list)
        progress: dict[int, Progress] = {}
        for work in works:
            groups[self._measurement_id(work)].append(work)
            if work.points_done is not None:
                progress[work.scan_id] = (work.points_done, work.progress)
        encoded = {
            measurement_id: [
                encode(concatenate(run), measured[0].layout) for run in _merge_runs(measured)
            ]
            for measurement_id, measured in groups.items()
        }
        self.chunks.commit(encoded, progress)

    def _measurement_id(self, work: _ChunkWork) -> int:
        key = (work.scan_id, work.measurement)
        measurement_id = self._measurement_ids.get(key)
        if measurement_id is None:
            measurement = self.db.create_measurement_object(
                work.scan_id,
                work.measurement,
                work.layout,
                point_shape=work.point_shape,
                instrument_name=work.instrument,
            )
            measurement_id = self._measurement_ids[key] = measurement.id
        return measurement_id

    def _spool_locked(self) -> Spool:
        if self._spool is None:
            self._spool = Spool(self.spool_directory, self._fsync)
        return self._spool

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")


def _work_from_batch(
    scan_id: int,
    batch: DataBatch,
    first_row: int,
    layout: Layout | None = None,
    layout_json: list[dict[str, Any]] | None = None,
) -> _ChunkWork:
    """A batch as a chunk starting at ``first_row``, uncompressed (as spooled)."""
    layout = layout or batch_layout(batch)
    rows = batch_to_chunk(batch, first_row)
    chunk = encode(rows, layout, RAW_CODEC)
    shape = None if chunk.rows_per_point is None else [chunk.rows_per_point]
    return _ChunkWork(
        scan_id,
        batch.measurement_name,
        layout,
        shape,
        rows,
        chunk,
        batch.instrument_name,
        layout_json or layout.to_json(),
    )


def _gaps(first: int, end: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of rows ``first .. end`` that no (sorted) stored span covers."""
    gaps = []
    cursor = first
    for low, high in spans:
        if low > cursor:
            gaps.append((cursor, min(low, end)))
        cursor = max(cursor, high)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _remove_if_empty(directory: Path) -> None:
    """Remove a spool folder left with nothing in it (a legacy folder fully replayed)."""
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def _spool_header(work: _ChunkWork) -> dict[str, Any]:
    return {
        **work.chunk.meta(),
        "scan_id": work.scan_id,
        "measurement": work.measurement,
        "layout": work.layout_json or work.layout.to_json(),
        "point_shape": work.point_shape,
        "instrument": work.instrument,
    }


def _work_from_record(record: SpoolRecord) -> _ChunkWork:
    header = record.header
    layout = Layout.from_json(header["layout"])
    chunk = EncodedChunk.from_meta(header, record.payload)
    return _ChunkWork(
        header["scan_id"],
        header["measurement"],
        layout,
        header["point_shape"],
        decode(chunk, layout),
        chunk,
        header.get("instrument"),
    )


def _merge_runs(works: list[_ChunkWork]) -> list[list[ChunkData]]:
    """Consecutive batches grouped into runs of about :data:`MERGED_CHUNK_BYTES`."""
    runs: list[list[ChunkData]] = []
    size = 0
    for work in works:
        rows = work.rows
        nbytes = sum(column.nbytes for column in rows.columns if column is not None)
        last = runs[-1][-1] if runs else None
        if (
            last is None
            or rows.first_row != last.first_row + last.row_count
            or size + nbytes > MERGED_CHUNK_BYTES
        ):
            runs.append([])
            size = 0
        runs[-1].append(rows)
        size += nbytes
    return runs
