"""What an agent without database credentials and the server's gateway say over HTTP.

An agent that holds only its computer token reaches the lab's database through the
server: ``POST {server}/agent-gateway/v1/<method>`` with ``Authorization: Bearer <token>``
and a msgpack body ``{"kwargs": {...}}``; the answer is a msgpack body ``{"result": ...}``
(status 200) or ``{"error": <kind>, "message": <why>}`` (4xx, 5xx). HTTP keeps one
connection open per agent (``requests.Session``), carries binary bodies of any size
(measurement chunks are megabytes) and every call is one short, independent request: a
server restart costs a retry, and nothing shares a line with the live events of the
Socket.IO uplink.

msgpack carries bytes as bytes (a chunk's columns cross as the storage layer encoded
them, never one JSON number per point) and, through its extension types, numpy arrays,
datetimes and database records (:class:`RecordSnapshot` on the agent: read-only, no
session behind it).
"""

from __future__ import annotations

from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import msgpack
import numpy as np

from pybirch.database.packed_json import unpack as unpack_document

#: Where the gateway's methods are: ``{GATEWAY_PREFIX}/<method>``.
GATEWAY_PREFIX = "/agent-gateway/v1"
#: The content type of gateway requests and answers.
CONTENT_TYPE = "application/msgpack"
#: Largest request body the gateway reads (merged chunks, compressed, with their metadata).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Chunk bytes an agent sends in one request at most (a commit is split beyond that).
CHUNK_REQUEST_BYTES = 8 * 1024 * 1024

#: Error kinds the gateway answers with (the agent raises the matching exception).
NOT_FOUND = "not_found"
REFUSED = "refused"
UNAUTHORIZED = "unauthorized"
CONFLICT = "conflict"
QUEUE_RUNNING = "queue_running"
BAD_REQUEST = "bad_request"
UNAVAILABLE = "unavailable"

_ARRAY = 1
_DATETIME = 2
_RECORD = 3
_DATE = 4


class MessageFormatError(ValueError):
    """Bytes that are not a gateway message."""


class RecordSnapshot:
    """A database record as the gateway sent it: its fields as read-only attributes.

    There is no session behind it: what the server did not send is not there
    (AttributeError), and nothing written to it reaches the database.
    """

    __slots__ = ("_fields", "_kind")

    def __init__(self, kind: str, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_fields", MappingProxyType(dict(fields)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._kind} snapshot has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._kind} snapshot is read-only")

    def __repr__(self) -> str:
        return f"<{self._kind} snapshot id={self._fields.get('id')!r}>"

    @property
    def kind(self) -> str:
        """The model the record is of (``Queue``, ``Scan``...)."""
        return self._kind

    def fields(self) -> dict[str, Any]:
        """The fields sent, as a new dict."""
        return dict(self._fields)


class ScanTreeSnapshot(RecordSnapshot):
    """A scan's stored tree as sent: :meth:`scan_tree` unpacks it as the record would."""

    __slots__ = ()

    def scan_tree(self, *, as_lists: bool = False) -> dict[str, Any]:
        """The tree as stored: arrays as read-only numpy arrays, or as lists (JSON-able)."""
        return unpack_document(self.tree, self.positions, as_lists=as_lists)


#: Snapshot classes of records whose callers use methods besides fields.
SNAPSHOT_CLASSES: dict[str, type[RecordSnapshot]] = {"ScanDefinition": ScanTreeSnapshot}


class RecordFields:
    """A record on its way to the agent: its model's name and the fields the agent gets."""

    __slots__ = ("fields", "kind")

    def __init__(self, kind: str, fields: dict[str, Any]) -> None:
        self.kind = kind
        self.fields = fields


def pack(value: Any) -> bytes:
    """``value`` as msgpack, arrays, datetimes and records included."""
    return msgpack.packb(value, default=_encode, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """What :func:`pack` was given (records as :class:`RecordSnapshot`)."""
    try:
        return msgpack.unpackb(data, ext_hook=_decode, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise MessageFormatError(f"not a gateway message: {exc}") from exc


def _encode(value: Any) -> msgpack.ExtType:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise TypeError("arrays of Python objects do not cross the gateway")
        header = [array.dtype.str, list(array.shape), array.tobytes()]
        return msgpack.ExtType(_ARRAY, msgpack.packb(header, use_bin_type=True))
    if isinstance(value, np.generic):
        return _encode(np.asarray(value))
    if isinstance(value, datetime):
        return msgpack.ExtType(_DATETIME, value.isoformat().encode())
    if isinstance(value, date):  # a calibration or maintenance day
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    if isinstance(value, RecordFields):
        body = msgpack.packb([value.kind, value.fields], default=_encode, use_bin_type=True)
        return msgpack.ExtType(_RECORD, body)
    raise TypeError(f"{type(value).__name__} does not cross the gateway")


def _decode(code: int, data: bytes) -> Any:
    if code == _ARRAY:
        dtype, shape, raw = msgpack.unpackb(data, raw=False)
        if np.dtype(dtype).hasobject:
            raise ValueError("arrays of Python objects do not cross the gateway")
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape)
    if code == _DATETIME:
        return datetime.fromisoformat(data.decode())
    if code == _DATE:
        return date.fromisoformat(data.decode())
    if code == _RECORD:
        kind, fields = msgpack.unpackb(data, ext_hook=_decode, raw=False, strict_map_key=False)
        return SNAPSHOT_CLASSES.get(str(kind), RecordSnapshot)(str(kind), fields)
    return msgpack.ExtType(code, data)
