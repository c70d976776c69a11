"""Encoding a run of rows into one compressed chunk, and decoding it again.

A chunk's payload is one blosc2 frame per stored column (in layout order), each
byte-shuffled and LZ4-compressed (fast enough to keep pace with a measuring thread; random
readings barely compress anyway) and followed by its CRC-32, and, when points have
different numbers of rows, a last frame of each point's row count. ``frame_sizes`` records
each frame's length so a read decompresses only the columns it asks for; the checksum
catches a damaged frame (blosc2 stores incompressible data verbatim, unchecked).
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import blosc2
import numpy as np

from pybirch.database.errors import DataIntegrityError, StorageError
from pybirch.database.storage.layout import Layout

CODEC = "blosc2-lz4-crc32"
#: Uncompressed frames with their checksum: what the spool writes (cheapest to produce).
RAW_CODEC = "raw-crc32"
_CRC = struct.Struct("<I")
#: Codecs this PyBirch reads (blosc2 frames describe their own compressor).
_CODECS = (CODEC, RAW_CODEC, "blosc2-zstd1-crc32")


@dataclass
class ChunkData:
    """Rows of one measurement, decoded: one array per column in layout order.

    Data columns hold ``row_count`` values, per-point columns ``point_count``. When all
    points have the same number of rows ``rows_per_point`` says how many; otherwise
    ``point_rows`` gives each point's count.
    """

    first_row: int
    first_point: int
    columns: list[np.ndarray | None]
    row_count: int
    point_count: int
    rows_per_point: int | None = 1
    point_rows: np.ndarray | None = None

    def check(self, layout: Layout) -> None:
        """Raise :class:`DataIntegrityError` if the arrays do not fit ``layout``."""
        if len(self.columns) != len(layout.columns):
            raise DataIntegrityError(
                f"chunk has {len(self.columns)} columns, the measurement {len(layout.columns)}"
            )
        if self.rows_per_point is None:
            if self.point_rows is None or int(self.point_rows.sum()) != self.row_count:
                raise DataIntegrityError("chunk point_rows do not add up to its row count")
        elif self.rows_per_point * self.point_count != self.row_count:
            raise DataIntegrityError(
                f"chunk of {self.point_count} points x {self.rows_per_point} rows "
                f"claims {self.row_count} rows"
            )
        for spec, column in zip(layout.columns, self.columns, strict=True):
            expected = self.point_count if spec.per_point else self.row_count
            if column is None or column.shape != (expected,):
                shape = None if column is None else column.shape
                raise DataIntegrityError(
                    f"column {spec.label!r} has shape {shape}, expected ({expected},)"
                )


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk as stored: counts, codec, frame sizes and the compressed payload."""

    first_row: int
    row_count: int
    first_point: int
    point_count: int
    rows_per_point: int | None
    codec: str
    frame_sizes: list[int]
    payload: bytes
    #: Where ``payload`` starts within the whole payload, when only part was fetched.
    payload_offset: int = 0

    @property
    def end_row(self) -> int:
        """One past the chunk's last row."""
        return self.first_row + self.row_count

    def meta(self) -> dict[str, Any]:
        """Everything but the payload, JSON-able (a table row or a spool header)."""
        return {
            "first_row": self.first_row,
            "row_count": self.row_count,
            "first_point": self.first_point,
            "point_count": self.point_count,
            "rows_per_point": self.rows_per_point,
            "codec": self.codec,
            "frame_sizes": list(self.frame_sizes),
        }

    def frame_span(self, columns: set[int]) -> tuple[int, int]:
        """(start, end) bytes of the payload holding the frames of ``columns``."""
        ends = list(itertools.accumulate(self.frame_sizes))
        needed = sorted(columns) + (
            [len(self.frame_sizes) - 1] if self.rows_per_point is None else []
        )
        start = min(ends[i] - self.frame_sizes[i] for i in needed)
        return start, max(ends[i] for i in needed)

    @classmethod
    def from_meta(
        cls, meta: Mapping[str, Any], payload: bytes, payload_offset: int = 0
    ) -> EncodedChunk:
        """The chunk described by :meth:`meta` output (or a table row) and its payload."""
        return cls(
            payload_offset=payload_offset,
            first_row=meta["first_row"],
            row_count=meta["row_count"],
            first_point=meta["first_point"],
            point_count=meta["point_count"],
            rows_per_point=meta["rows_per_point"],
            codec=meta["codec"],
            frame_sizes=list(meta["frame_sizes"]),
            payload=payload,
        )


def known_codec(codec: str) -> bool:
    """Whether this PyBirch reads chunks of ``codec``."""
    return codec in _CODECS


def concatenate(chunks: list[ChunkData]) -> ChunkData:
    """Consecutive chunks of one measurement as one (each must start where the last ends)."""
    first = chunks[0]
    if len(chunks) == 1:
        return first
    for earlier, later in itertools.pairwise(chunks):
        if later.first_row != earlier.first_row + earlier.row_count:
            raise DataIntegrityError(
                f"chunks at rows {earlier.first_row} and {later.first_row} are not consecutive"
            )
    uniform = {chunk.rows_per_point for chunk in chunks}
    rows_per_point = first.rows_per_point if len(uniform) == 1 else None
    point_rows = None
    if rows_per_point is None:
        point_rows = np.concatenate([_rows_of_each_point(chunk) for chunk in chunks])
    return ChunkData(
        first_row=first.first_row,
        first_point=first.first_point,
        columns=[
            np.concatenate([chunk.columns[i] for chunk in chunks])  # type: ignore[misc]
            for i in range(len(first.columns))
        ],
        row_count=sum(chunk.row_count for chunk in chunks),
        point_count=sum(chunk.point_count for chunk in chunks),
        rows_per_point=rows_per_point,
        point_rows=point_rows,
    )


def _rows_of_each_point(chunk: ChunkData) -> np.ndarray:
    if chunk.rows_per_point is None:
        assert chunk.point_rows is not None
        return np.asarray(chunk.point_rows, dtype=np.int64)
    return np.full(chunk.point_count, chunk.rows_per_point, dtype=np.int64)


def encode(chunk: ChunkData, layout: Layout, codec: str = CODEC) -> EncodedChunk:
    """Compress ``chunk`` (checked against ``layout``) into one payload.

    ``codec=RAW_CODEC`` leaves the frames uncompressed (still checksummed).
    """
    chunk.check(layout)
    arrays = [
        np.ascontiguousarray(column, dtype=spec.dtype)
        for spec, column in zip(layout.columns, chunk.columns, strict=True)
    ]
    if chunk.rows_per_point is None:
        assert chunk.point_rows is not None
        arrays.append(np.ascontiguousarray(chunk.point_rows, dtype=np.int64))
    pack = _compress if codec == CODEC else _raw
    frames = [pack(array) for array in arrays]
    return EncodedChunk(
        first_row=chunk.first_row,
        row_count=chunk.row_count,
        first_point=chunk.first_point,
        point_count=chunk.point_count,
        rows_per_point=chunk.rows_per_point,
        codec=codec,
        frame_sizes=[len(frame) for frame in frames],
        payload=b"".join(frames),
    )


def decode(
    encoded: EncodedChunk,
    layout: Layout,
    wanted: set[int] | None = None,
    into: dict[int, np.ndarray] | None = None,
) -> ChunkData:
    """Decompress the columns at positions ``wanted`` (all by default); others are None.

    ``into`` maps column positions to arrays of the right size to decompress straight
    into (a slice of a larger result), saving a copy.
    """
    frames = _frames(encoded, layout)
    raw = encoded.codec == RAW_CODEC
    columns: list[np.ndarray | None] = []
    for i, spec in enumerate(layout.columns):
        if wanted is not None and i not in wanted:
            columns.append(None)
            continue
        count = encoded.point_count if spec.per_point else encoded.row_count
        target = None if into is None else into.get(i)
        columns.append(_decompress(frames[i], spec.dtype, count, target, raw))
    point_rows = None
    if encoded.rows_per_point is None:
        point_rows = _decompress(frames[-1], "int64", encoded.point_count, raw=raw)
    return ChunkData(
        first_row=encoded.first_row,
        first_point=encoded.first_point,
        columns=columns,
        row_count=encoded.row_count,
        point_count=encoded.point_count,
        rows_per_point=encoded.rows_per_point,
        point_rows=point_rows,
    )


def _frames(encoded: EncodedChunk, layout: Layout) -> list[memoryview]:
    """The payload cut into its frames, after checking the chunk fits the layout."""
    if encoded.codec not in _CODECS:
        raise StorageError(f"chunk codec {encoded.codec!r} is unknown to this PyBirch")
    expected_frames = len(layout.columns) + (encoded.rows_per_point is None)
    if len(encoded.frame_sizes) != expected_frames:
        raise StorageError(
            f"chunk at row {encoded.first_row} has {len(encoded.frame_sizes)} frames, "
            f"its measurement needs {expected_frames}"
        )
    payload = memoryview(encoded.payload)
    frames, offset = [], -encoded.payload_offset
    for size in encoded.frame_sizes:
        inside = offset >= 0 and offset + size <= len(payload)
        frames.append(payload[offset : offset + size] if inside else payload[:0])
        offset += size
    return frames


def _compress(array: np.ndarray) -> bytes:
    if array.nbytes == 0:
        return b""
    frame = blosc2.compress2(
        array,
        typesize=array.itemsize,
        codec=blosc2.Codec.LZ4,
        clevel=5,
        filter=blosc2.Filter.SHUFFLE,
        nthreads=1,  # chunks are small; the measuring thread needs the other core
    )
    return frame + _CRC.pack(zlib.crc32(frame))


def _raw(array: np.ndarray) -> bytes:
    frame = array.tobytes()
    return frame + _CRC.pack(zlib.crc32(frame))


def _decompress(
    frame: memoryview,
    dtype: str,
    count: int,
    into: np.ndarray | None = None,
    raw: bool = False,
) -> np.ndarray:
    array = np.empty(count, dtype=dtype) if into is None else into
    if count == 0:
        if len(frame):
            raise StorageError("a chunk frame holds data where none was expected")
        return array
    if len(frame) <= _CRC.size:
        raise StorageError(f"a chunk frame of {len(frame)} bytes is truncated")
    body = frame[: -_CRC.size]
    (expected,) = _CRC.unpack(frame[-_CRC.size :])
    if zlib.crc32(body) != expected:
        raise StorageError("a chunk frame is damaged (checksum mismatch)")
    if raw:
        if len(body) != array.nbytes:
            raise StorageError(f"a raw frame has {len(body)} bytes, expected {array.nbytes}")
        array[:] = np.frombuffer(body, dtype=array.dtype)
        return array
    try:
        # decompress() reuses blosc2's global context: no per-frame set-up cost.
        blosc2.decompress(body, dst=array)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise StorageError(f"a chunk frame cannot be decompressed: {exc}") from exc
    return array
