"""The local append-only spool: every batch is written here before the database sees it.

Each :class:`Spool` is a chain of segment files owned by one writer, each locked with
``flock`` for as long as the writer lives. A segment holds about :data:`SEGMENT_BYTES`;
once every record of a segment has been committed (:meth:`Spool.release`) the segment is
deleted (the newest one is emptied instead), so a spool holds what is not committed yet,
never a whole scan. A file that is not locked belongs to a writer that died:
:func:`orphaned_spools` finds those, and the data manager replays them into the database
on start-up. Chunks are keyed
by measurement and first row, so a replay never stores a row twice.

A record is ``magic | length | crc32 | header length | JSON header | binary payload``;
a record cut short by a crash fails its length or checksum and ends the file's replay.

A database's spool folder is named by the database's identity (its ``database_identity``
row), so every spelling of its URL finds the same folder. Its ``journals/`` sub-folder
holds the engine's point journals (:mod:`pybirch.scan.journal`): the points measured but
not spooled yet.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import struct
import threading
import uuid
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybirch.configuration import current_config
from pybirch.database import data_dir
from pybirch.database.errors import StorageError
from pybirch.orphaned_files import OrphanedFile, orphaned_files
from pybirch.scan.journal import orphaned_journals, read_segment

log = logging.getLogger(__name__)

MAGIC = b"PBS1"
#: Sub-folder of a spool folder holding the engine's point journals.
JOURNALS = "journals"
_FRAME = struct.Struct("<4sII")
_HEADER_LENGTH = struct.Struct("<I")
SUFFIX = ".spool"
#: Hex digits of the URL hash that named spool folders before database identities.
LEGACY_KEY_LENGTH = 16
#: Bytes after which a spool starts a new segment file.
SEGMENT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class SpoolRecord:
    """One spooled item: a JSON header and the bytes it describes."""

    header: dict[str, Any]
    payload: bytes


def spool_root() -> Path:
    """The folder holding one spool folder per database, inside the data directory."""
    return data_dir() / "spool"


def spool_directory(identity: str) -> Path:
    """The spool folder of the database whose identity row holds ``identity``.

    Keyed by the database's own identity, not its URL: the same database reached as
    ``localhost`` or ``127.0.0.1``, through a failover host or a pooler, has one spool.
    """
    return spool_root() / identity


def legacy_spool_directory(database_url: str) -> Path:
    """Where PyBirch before database identities spooled for ``database_url`` (by its hash)."""
    key = hashlib.sha256(database_url.encode()).hexdigest()[:LEGACY_KEY_LENGTH]
    return spool_root() / key


def is_legacy_directory(directory: Path) -> bool:
    """True for a spool folder keyed by a URL's hash (PyBirch before database identities)."""
    name = directory.name
    return len(name) == LEGACY_KEY_LENGTH and all(c in "0123456789abcdef" for c in name)


def fsync_enabled() -> bool:
    """True if ``PYBIRCH_SPOOL_FSYNC`` asks for every record to reach the disk (power cuts)."""
    return current_config().spool_fsync


class SpoolSegment:
    """One file of a spool: its records not committed yet, and its size."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        #: Records written and not released yet.
        self.pending = 0
        #: Bytes written since the file was last emptied.
        self.size = 0

    def close(self, delete: bool) -> None:
        """Release the file, deleting it first if ``delete``."""
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)


class Spool:
    """Append-only records in segment files owned by this writer; committed ones go."""

    def __init__(
        self, directory: Path, fsync: bool | None = None, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.fsync = fsync_enabled() if fsync is None else fsync
        self.segment_bytes = segment_bytes
        #: Oldest first; the last one takes new records.
        self._segments: deque[SpoolSegment] = deque([SpoolSegment(directory)])
        # The scan's thread appends while the writer's releases and the log describes:
        # the segments and their counts change under this lock only.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Spool {self.describe()}>"

    @property
    def path(self) -> Path:
        """The file new records go to."""
        with self._lock:
            return self._segments[-1].path

    @property
    def records(self) -> int:
        """Records written and not released (not committed yet)."""
        with self._lock:
            return sum(segment.pending for segment in self._segments)

    @property
    def size(self) -> int:
        """Bytes of the spool's files."""
        with self._lock:
            return sum(segment.size for segment in self._segments)

    def describe(self) -> str:
        """What the spool holds: ``N records (B MiB) in F files under <folder>``."""
        with self._lock:
            records = sum(segment.pending for segment in self._segments)
            size = sum(segment.size for segment in self._segments)
            files = len(self._segments)
        return f"{records} records ({size / 2**20:.1f} MiB) in {files} files under {self.directory}"

    def append(self, header: dict[str, Any], payload: bytes) -> SpoolSegment:
        """Write one record (one ``write`` call, so a crash leaves a whole or a torn tail).

        Returns the segment that holds it, to :meth:`release` once it is committed.
        """
        encoded_header = json.dumps(header, separators=(",", ":")).encode()
        body = _HEADER_LENGTH.pack(len(encoded_header)) + encoded_header + payload
        record = _FRAME.pack(MAGIC, len(body), zlib.crc32(body)) + body
        with self._lock:
            segment = self._segments[-1]
            if segment.size >= self.segment_bytes:
                segment = SpoolSegment(self.directory)
                self._segments.append(segment)
            view = memoryview(record)
            while view:
                written = os.write(segment.fd, view)
                view = view[written:]
            if self.fsync:
                os.fdatasync(segment.fd)
            segment.pending += 1
            segment.size += len(record)
            return segment

    def release(self, segment: SpoolSegment) -> None:
        """Forget one record of ``segment``: it is committed. An emptied segment goes."""
        with self._lock:
            segment.pending -= 1
            if segment.pending:
                return
            if segment is self._segments[-1]:
                os.ftruncate(segment.fd, 0)
                segment.size = 0
            else:
                self._segments.remove(segment)
                segment.close(delete=True)

    def close(self) -> None:
        """Release the files; empty ones are deleted, the others kept for replay."""
        with self._lock:
            while self._segments:
                segment = self._segments.popleft()
                segment.close(delete=os.fstat(segment.fd).st_size == 0)


def read_records(path: Path) -> Iterator[SpoolRecord]:
    """Every whole record of a spool file, in order; stops at a torn or corrupt record."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        if len(data) - offset < _FRAME.size:
            log.warning("spool %s ends with a torn record at byte %d; ignored", path, offset)
            return
        magic, length, checksum = _FRAME.unpack_from(data, offset)
        body = data[offset + _FRAME.size : offset + _FRAME.size + length]
        if magic != MAGIC or len(body) != length or zlib.crc32(body) != checksum:
            log.warning("spool %s: record at byte %d is torn or corrupt; ignored", path, offset)
            return
        (header_length,) = _HEADER_LENGTH.unpack_from(body)
        start = _HEADER_LENGTH.size
        try:
            header = json.loads(body[start : start + header_length])
        except ValueError as exc:
            raise StorageError(f"spool {path}: unreadable record header: {exc}") from exc
        yield SpoolRecord(header, body[start + header_length :])
        offset += _FRAME.size + length


def orphaned_spools(directory: Path) -> Iterator[OrphanedFile]:
    """Spool files in ``directory`` no live writer holds, oldest first, each locked for us."""
    return orphaned_files(directory, SUFFIX, order=lambda path: path.stat().st_mtime)


@dataclass
class SpoolContents:
    """What the unowned files of a spool folder hold (records whose writer is gone)."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    scans: set[int] = field(default_factory=set)
    measurements: set[tuple[int, str]] = field(default_factory=set)
    rows: int = 0

    def describe(self) -> str:
        """``N files: S scans (ids), M measurements, R rows``."""
        ids = ", ".join(str(scan) for scan in sorted(self.scans))
        return (
            f"{len(self.files)} files: {len(self.scans)} scans ({ids}), "
            f"{len(self.measurements)} measurements, {self.rows} rows"
        )


def unowned_contents(directory: Path) -> SpoolContents:
    """What the spool and journal files of ``directory`` that no live writer holds contain."""
    contents = SpoolContents(directory)
    for orphan in orphaned_spools(directory):
        try:
            for record in read_records(orphan.path):
                _count(
                    contents,
                    record.header["scan_id"],
                    record.header["measurement"],
                    record.header["row_count"],
                )
            contents.files.append(orphan.path)
        finally:
            orphan.release(delete=False)
    for journal in orphaned_journals(directory / JOURNALS):
        try:
            segment = read_segment(journal.path)
            rows = int(segment.rows_per_point().sum())
            _count(contents, segment.tag["scan_id"], segment.columns.name, rows)
            contents.files.append(journal.path)
        finally:
            journal.release(delete=False)
    return contents


def _count(contents: SpoolContents, scan_id: int, measurement: str, rows: int) -> None:
    contents.scans.add(scan_id)
    contents.measurements.add((scan_id, measurement))
    contents.rows += rows
