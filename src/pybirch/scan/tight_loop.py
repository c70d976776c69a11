"""The engine's tight loop: one movement and one measurement, nothing else at each position.

:func:`run_line` is compiled from ``_tight_loop.c`` where PyBirch was installed with a C
compiler at hand (about twice as fast: see ``benchmarks/engine.py``), and is
:func:`python_run_line` otherwise. Both take the same points the same way; the Python one
is the specification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import islice

import numpy as np

from pybirch.scan.batch import FLOAT64

log = logging.getLogger(__name__)

#: ``run_line(positions, start, move, perform, to_bytes, now, record, shape, chunks,
#: timestamps, due)``: see :func:`python_run_line`.
RunLine = Callable[..., int]


def python_run_line(
    positions: list[float],
    start: int,
    move: Callable[[float], object],
    perform: Callable[[], object],
    to_bytes: Callable[[object], bytes],
    now: Callable[[], float],
    record: Callable[[bytes, float, float], object] | None,
    shape: tuple[int, ...],
    chunks: list[bytes],
    timestamps: list[float],
    due: list[float],
) -> int:
    """Take points from ``positions[start]`` on; return the index after the last one taken.

    Per point: move, read, copy the reading to bytes (directly when it is a plain float64
    array of the first reading's ``shape``, otherwise by ``to_bytes``, which validates it),
    take the time, give the point to ``record`` (the journal, if any), append it to
    ``chunks`` and ``timestamps``, and stop after it once the time reaches ``due[0]`` (a
    flush is due, or a pause, abort or failure was requested).
    """
    index = start
    for position in islice(positions, start, None):
        move(position)
        result = perform()
        # a real array only: a driver's own object could claim a dtype and shape and hand
        # back any bytes from its tobytes()
        if type(result) is np.ndarray and result.dtype is FLOAT64 and result.shape == shape:
            data = result.tobytes()
        else:
            data = to_bytes(result)
        t = now()
        if record is not None:
            # Before the next reading: a kill from here on loses nothing.
            record(data, t, position)
        # (list.append as a method call is a specialised instruction in 3.11+, faster than
        # calling a bound method kept in a variable)
        chunks.append(data)
        timestamps.append(t)
        index += 1
        if t >= due[0]:
            break
    return index


def _compiled() -> RunLine | None:
    try:
        from pybirch.scan._tight_loop import run_line
    except ImportError:
        log.debug("the compiled tight loop is not built; scans use the Python one")
        return None
    return run_line


#: The compiled loop, or None where it was not built.
compiled_run_line: RunLine | None = _compiled()
#: The loop scans use.
run_line: RunLine = compiled_run_line or python_run_line
