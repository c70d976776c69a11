"""JSON documents whose float arrays are kept as bytes beside them, not as JSON lists.

:func:`pack` replaces every numpy array of a document by ``{"$float64": [offset, count]}``
and gathers the arrays, as little-endian float64, into one bytes object (8 bytes a
number, exact, where a JSON list takes about 20); :func:`unpack` puts them back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.database.errors import StorageError

#: The key of an array reference: ``{"$float64": [offset, count]}``, in numbers.
ARRAY_KEY = "$float64"
_STORED = np.dtype("<f8")


def pack(document: Any) -> tuple[Any, bytes | None]:
    """The document with its arrays replaced by references, and the arrays' bytes (or None)."""
    arrays: list[np.ndarray] = []

    def visit(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.dtype.kind != "f":
                raise StorageError(f"only float arrays are packed, not {value.dtype}")
            offset = sum(array.size for array in arrays)
            arrays.append(np.ascontiguousarray(value, dtype=_STORED).reshape(-1))
            return {ARRAY_KEY: [offset, arrays[-1].size]}
        if isinstance(value, dict):
            return {key: visit(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [visit(item) for item in value]
        return value

    packed = visit(document)
    return packed, (np.concatenate(arrays).tobytes() if arrays else None)


def unpack(document: Any, data: bytes | None, *, as_lists: bool = False) -> Any:
    """The document :func:`pack` was given; arrays as read-only numpy arrays, or lists."""

    def visit(value: Any) -> Any:
        if isinstance(value, dict):
            if ARRAY_KEY in value:
                return _array(value[ARRAY_KEY], data, as_lists)
            return {key: visit(item) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item) for item in value]
        return value

    return visit(document)


def _array(reference: list[int], data: bytes | None, as_lists: bool) -> np.ndarray | list[float]:
    offset, count = reference
    if data is None or (offset + count) * _STORED.itemsize > len(data):
        raise StorageError(f"array {reference} lies beyond the {len(data or b'')} stored bytes")
    array = np.frombuffer(data, _STORED, count, offset * _STORED.itemsize)
    return array.tolist() if as_lists else array
