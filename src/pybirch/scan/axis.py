"""An evenly spaced axis that is never held whole: positions are computed a block at a time.

``Linspace(0.0, 1.0, 10**8)`` stands for ``np.linspace(0.0, 1.0, 10**8)`` bit for bit (the
same arithmetic, written out) but costs a few bytes instead of 800 MB. Indexing with an
integer gives a float, with a slice a numpy array of just that slice; iterating goes a
block at a time. ``np.asarray(axis)`` builds the whole array, for code that asks for it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from pybirch.scan.errors import ScanDefinitionError

#: Positions computed at a time when an axis is walked whole (bounded scratch memory).
BLOCK = 1 << 16


@dataclass(frozen=True)
class Linspace:
    """``count`` evenly spaced positions from ``start`` to ``stop``, both included."""

    start: float
    stop: float
    count: int
    #: Visit the positions from ``stop`` back to ``start`` (a snaking pass).
    descending: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "start", float(self.start))
            object.__setattr__(self, "stop", float(self.stop))
            count = whole_number(self.count)
        except (TypeError, ValueError) as exc:
            raise ScanDefinitionError(f"an evenly spaced axis needs numbers: {exc}") from exc
        if count < 0:
            raise ScanDefinitionError(f"an axis cannot have {count} positions")
        object.__setattr__(self, "count", count)

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, key: int) -> float: ...
    @overload
    def __getitem__(self, key: slice) -> np.ndarray: ...
    def __getitem__(self, key: int | slice) -> float | np.ndarray:
        """One position as a float, or a slice of positions as a float64 array."""
        if isinstance(key, slice):
            picked = range(self.count)[key]
            return self._at(np.arange(picked.start, picked.stop, picked.step, dtype=np.int64))
        index = range(self.count)[key]  # IndexError and negative indices as for a list
        return float(self._at(np.array([index], dtype=np.int64))[0])

    def __iter__(self) -> Iterator[float]:
        for block in self.blocks():
            yield from block.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # The whole axis: only for callers that ask for it (the engine never does).
        values = self[:]
        return values if dtype is None else values.astype(dtype, copy=False)

    def blocks(self, size: int = BLOCK) -> Iterator[np.ndarray]:
        """The positions in order, ``size`` at a time."""
        for low in range(0, self.count, size):
            yield self[low : low + size]

    def reversed(self) -> Linspace:
        """The same positions visited in the opposite order."""
        return Linspace(self.start, self.stop, self.count, not self.descending)

    def _at(self, indices: np.ndarray) -> np.ndarray:
        """The positions at ``indices`` (of the ascending axis, mapped if descending)."""
        if self.descending:
            indices = (self.count - 1) - indices
        return linspace_values(self.start, self.stop, self.count, indices)


def whole_number(value: Any) -> int:
    """``value`` as an int: an integer, or a float such as ``1e8`` that is a whole number."""
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise ValueError(f"count {value!r} is not a whole number")
        return int(value)
    return operator.index(value)


def linspace_values(start: float, stop: float, count: int, indices: np.ndarray) -> np.ndarray:
    """Positions ``indices`` of ``np.linspace(start, stop, count)``, with its arithmetic.

    Written out (numpy 2's ``linspace``: ``i * step + start``, or ``i / div * delta + start``
    when the step underflows to zero, the last set to ``stop``) so a stored start/stop/count
    reads back bit for bit whatever numpy does later.
    """
    values = indices.astype(np.float64)
    delta = stop - start
    div = count - 1
    # Ends too far apart overflow to inf and NaN, as in numpy; validation says which position.
    with np.errstate(over="ignore", invalid="ignore"):
        if div > 0:
            step = delta / div
            if step == 0:
                # numpy's special case for subnormal steps (gh-5437)
                values /= div
                values *= delta
            else:
                values *= step
        else:
            values *= delta
        values += start
    if div > 0:
        values[indices == div] = stop
    return values
