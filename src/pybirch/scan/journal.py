"""The point journal: every point of a measurement, in memory-mapped files that outlive the process.

The engine buffers a measurement's points in memory until a batch is full (or the flush
interval passes) and hands batches to its extensions, which spool them. A SIGKILL in
between would lose those points; the journal closes that gap. Each point is written into
a ``MAP_SHARED`` mapping of a file as soon as the instrument returns it: the kernel keeps
the page cache of a killed process, so the point is on its way to the disk as soon as the
store instruction ran. Whoever stores the batches (the database's data manager) calls
:meth:`PointJournal.release` once they are safe, and the files go away.

A journal is a chain of *segment* files, each self-contained: a JSON header saying whose
points they are (a caller's ``tag``, the columns, the segment's first point and row), then
records. A record is ``length | timestamp | position | payload | commit``: ``length``
bytes of readings (a negative length marks a pass record, whose payload is the first point
of a pass and its outer positions), and last a commit word, the file offset where the
record ends. One ``struct.pack_into`` writes it, field after field, so the commit word is
stored last; in a fresh, zero-filled file a record whose commit word is not its own end was
cut short by the kill, and ends the segment.

A writer holds ``flock`` on its segments while it lives: :func:`orphaned_journals` finds
the segments of dead writers, which :func:`read_segment` turns back into a
:class:`~pybirch.scan.batch.DataBatch`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import mmap
import os
import struct
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pybirch.orphaned_files import OrphanedFile, orphaned_files
from pybirch.scan.batch import FLOAT64, DataBatch, MeasurementColumns, PositionPass

log = logging.getLogger(__name__)

SUFFIX = ".journal"
MAGIC = b"PBJ1"
#: Bytes of one segment file (a bigger point gets a segment of its own size).
SEGMENT_BYTES = 8 * 1024 * 1024
_PREAMBLE = struct.Struct("<4sI")  # magic, length of the JSON header
_HEAD = struct.Struct("<qdd")  # length (< 0: a pass record), timestamp, position
_COMMIT = struct.Struct("<Q")  # the record's end offset, written last
_OVERHEAD = _HEAD.size + _COMMIT.size
_PASS_START = struct.Struct("<q")
_NAN = float("nan")


def _record_format(length: int) -> struct.Struct:
    """The whole record for a payload of ``length`` bytes, packed in one call."""
    return struct.Struct(f"<qdd{length}sQ")


class JournalError(OSError):
    """A journal segment cannot be read: not a journal, or its header is damaged."""


class UnwrittenSegmentError(JournalError):
    """A segment the kill cut short before its header was whole: it holds no point."""


@dataclass
class _Segment:
    path: Path
    fd: int
    first_point: int


class PointJournal:
    """Writes one measurement's points as they are measured; implements ``PointRecorder``."""

    def __init__(
        self,
        directory: Path,
        columns: MeasurementColumns,
        tag: dict[str, Any],
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._stem = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._meta = {
            "tag": tag,
            "measurement": columns.name,
            "instrument": columns.instrument_name,
            "data_columns": list(columns.data_columns),
            "position_columns": list(columns.position_columns),
        }
        self._row_bytes = 8 * max(1, len(columns.data_columns))
        # Segments oldest first; the last one is written. The lock guards the deque only:
        # release() runs on the extension thread, everything else on the scan's thread.
        self._lock = threading.Lock()
        self._segments: deque[_Segment] = deque()
        self._map: mmap.mmap | None = None
        self._end = self._capacity = 0
        # The record format of the last point's size (a scan's points rarely change size).
        self._length = -1
        self._size = 0
        self._pack = _record_format(0).pack_into
        self._points = self._data_bytes = self._released = self._segment_number = 0
        self._pass: tuple[int, tuple[float, ...]] = (0, ())
        self._open_segment(0)

    def __repr__(self) -> str:
        return f"<PointJournal {self.directory / self._stem} points={self._points}>"

    @property
    def points(self) -> int:
        """Points written so far."""
        return self._points

    @property
    def paths(self) -> list[Path]:
        """The segment files that still exist."""
        with self._lock:
            return [segment.path for segment in self._segments]

    def begin_pass(self, start: int, outer: tuple[float, ...]) -> None:
        """Record that points from ``start`` on sit at the outer positions ``outer``."""
        self._pass = (start, outer)
        self._write_pass()

    def point(self, data: bytes, timestamp: float, position: float) -> None:
        """Record one point with a single ``pack_into`` (its commit word stored last)."""
        length = len(data)
        if length != self._length:
            self._length, self._size = length, length + _OVERHEAD
            self._pack = _record_format(length).pack_into
        start = self._end
        end = start + self._size
        if end > self._capacity:
            start = self._open_segment(length)
            end = start + self._size
        self._pack(self._map, start, length, timestamp, position, data, end)
        self._end = end
        self._points += 1
        self._data_bytes += length

    def release(self, end_point: int) -> None:
        """Points before ``end_point`` are safe elsewhere; delete segments holding only those."""
        with self._lock:
            self._released = max(self._released, end_point)
            while len(self._segments) > 1 and self._segments[1].first_point <= self._released:
                _delete(self._segments.popleft())

    def close(self) -> None:
        """Stop writing; delete every segment if all points were released, else keep them.

        Kept segments are unlocked, so the next start-up (or a replay now) stores them.
        """
        if self._map is not None:
            self._map.close()
            self._map = None
        with self._lock:
            keep = self._released < self._points
            while self._segments:
                segment = self._segments.popleft()
                if keep:
                    os.close(segment.fd)  # unlocked: a replay may take it now
                else:
                    _delete(segment)
        if keep:
            log.warning(
                "%r: %d points were not released; the journal is kept for replay",
                self,
                self._points - self._released,
            )

    def _open_segment(self, point_bytes: int) -> int:
        """Start a new segment; returns where its next record goes."""
        meta = {
            **self._meta,
            "first_point": self._points,
            "first_row": self._data_bytes // self._row_bytes,
        }
        encoded = json.dumps(meta, separators=(",", ":")).encode()
        records_start = _align(_PREAMBLE.size + len(encoded))
        outer_bytes = 8 * len(self._pass[1])
        needed = records_start + 2 * _OVERHEAD + _PASS_START.size + outer_bytes + point_bytes
        size = max(self.segment_bytes, _align(needed))
        self._segment_number += 1
        path = self.directory / f"{self._stem}-{self._segment_number:06d}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, size)  # zero-filled: a zero sequence ends the records
            mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        mapping[:records_start] = (
            _PREAMBLE.pack(MAGIC, len(encoded))
            + encoded
            + bytes(records_start - _PREAMBLE.size - len(encoded))
        )
        if self._map is not None:
            self._map.close()  # its pages stay in the page cache; the fd keeps the lock
        with self._lock:
            self._segments.append(_Segment(path, fd, self._points))
        self._map, self._capacity, self._end = mapping, size, records_start
        # A segment must say where its points are without the segments before it.
        self._pass = (self._points, self._pass[1])
        self._write_pass()
        return self._end

    def _write_pass(self) -> None:
        start, outer = self._pass
        payload = _PASS_START.pack(start) + np.asarray(outer, dtype=FLOAT64).tobytes()
        begin = self._end
        end = begin + _OVERHEAD + len(payload)
        if end > self._capacity:
            self._open_segment(0)  # writes the pass itself
            return
        pack = _record_format(len(payload)).pack_into
        pack(self._map, begin, -len(payload), _NAN, _NAN, payload, end)
        self._end = end


def _delete(segment: _Segment) -> None:
    segment.path.unlink(missing_ok=True)
    os.close(segment.fd)


def _align(size: int, to: int = 8) -> int:
    return -(-size // to) * to


# -- reading what a dead writer left ----------------------------------------------------------


@dataclass
class JournalSegment:
    """The whole records of one segment file."""

    path: Path
    #: The writer's tag (e.g. which scan of which database).
    tag: dict[str, Any]
    columns: MeasurementColumns
    first_point: int
    first_row: int
    #: One ``bytes`` per point: its readings as float64 rows.
    data: list[bytes] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    #: The parent's commanded position per point (NaN without a parent).
    positions: list[float] = field(default_factory=list)
    #: (first point, outer positions) of each pass.
    passes: list[tuple[int, tuple[float, ...]]] = field(default_factory=list)

    @property
    def point_count(self) -> int:
        """Points in the segment."""
        return len(self.data)

    def rows_per_point(self) -> np.ndarray:
        """Rows of each whole point (a point that is not whole rows ends the list)."""
        row_bytes = 8 * len(self.columns.data_columns)
        lengths = np.fromiter(map(len, self.data), dtype=np.int64, count=len(self.data))
        bad = np.flatnonzero((lengths == 0) | (lengths % row_bytes != 0))
        good = lengths[: bad[0]] if bad.size else lengths
        return good // row_bytes

    def batch(self, start: int, end: int) -> DataBatch:
        """Points ``start .. end`` (numbered within the scan) as the engine's batch."""
        low, high = start - self.first_point, end - self.first_point
        rows = self.rows_per_point()[low:high]
        return DataBatch(
            self.columns,
            start,
            b"".join(self.data[low:high]),
            self.timestamps[low:high],
            None if np.all(rows == 1) else rows,
            self._position_passes(),
        )

    def _position_passes(self) -> list[PositionPass]:
        has_parent = len(self.columns.position_columns) > 0
        positions = np.asarray(self.positions, dtype=FLOAT64)
        passes = []
        for pass_start, outer in self.passes:
            sequence = positions[pass_start - self.first_point :] if has_parent else None
            passes.append(PositionPass(pass_start, outer, sequence))
        return passes


def read_segment(path: Path) -> JournalSegment:
    """Every whole record of a segment file; stops where the writer was cut short."""
    with path.open("rb") as file:
        content = file.read()
    if len(content) < _PREAMBLE.size:
        raise JournalError(f"journal {path} is too short to be one")
    magic, meta_length = _PREAMBLE.unpack_from(content)
    # Points come after the header, so a header cut short by the kill (the file is
    # zero-filled when it is made) means the segment never held one.
    if magic != MAGIC:
        if _all_zero(content[: _PREAMBLE.size]):
            raise UnwrittenSegmentError(f"journal {path} was cut short before its header")
        raise JournalError(f"{path} is not a point journal")
    try:
        meta = json.loads(content[_PREAMBLE.size : _PREAMBLE.size + meta_length])
    except ValueError as exc:
        if _all_zero(content[_align(_PREAMBLE.size + meta_length) :]):
            raise UnwrittenSegmentError(
                f"journal {path} was cut short while its header was written"
            ) from exc
        raise JournalError(f"journal {path}: damaged header: {exc}") from exc
    columns = MeasurementColumns(
        meta["measurement"],
        meta["instrument"],
        tuple(meta["data_columns"]),
        tuple(meta["position_columns"]),
    )
    segment = JournalSegment(path, meta["tag"], columns, meta["first_point"], meta["first_row"])
    _read_records(segment, content, _align(_PREAMBLE.size + meta_length))
    return segment


def _all_zero(data: bytes) -> bool:
    return data.count(0) == len(data)


def _read_records(segment: JournalSegment, content: bytes, offset: int) -> None:
    while offset + _OVERHEAD <= len(content):
        length, timestamp, position = _HEAD.unpack_from(content, offset)
        end = offset + _OVERHEAD + abs(length)
        if end > len(content) or _COMMIT.unpack_from(content, end - _COMMIT.size)[0] != end:
            return  # never written, or cut short by the kill
        payload = content[offset + _HEAD.size : end - _COMMIT.size]
        if length < 0:
            (start,) = _PASS_START.unpack_from(payload)
            outer = tuple(np.frombuffer(payload, dtype=FLOAT64, offset=_PASS_START.size).tolist())
            segment.passes.append((start, outer))
        else:
            segment.data.append(payload)
            segment.timestamps.append(timestamp)
            segment.positions.append(position)
        offset = end


def orphaned_journals(directory: Path) -> Iterator[OrphanedFile]:
    """Segment files in ``directory`` no live writer holds, in writing order, each locked for us."""
    return orphaned_files(directory, SUFFIX)
