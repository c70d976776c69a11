"""CSV: ``# key: value`` metadata lines, a header of ``name (unit)`` labels, then the rows.

Numbers are written with Python's ``repr``, the shortest text that reads back as exactly the
same float64 (``nan``, ``inf`` and ``-inf`` included): ``pandas.read_csv(path, comment="#")``
gives every bit back (pandas before 3.1 needs ``float_precision="round_trip"`` for that).
Metadata values are one line each; line breaks in them are written as ``\\n``. A label
holding ``#`` would be cut by ``comment="#"``; skip the metadata lines by count instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from pybirch.database.export.source import MeasurementSource

SUFFIX = ".csv"
#: Rows formatted at a time: bounds the text held in memory whatever the chunk size.
BLOCK_ROWS = 8192


def write_csv(path: Path, sources: Sequence[MeasurementSource]) -> None:
    """Write the one measurement in ``sources`` to ``path``, chunk by chunk."""
    (source,) = sources
    with path.open("w", encoding="utf-8", newline="") as handle:
        for key, value in source.metadata.items():
            handle.write(f"# {key}: {_one_line(value)}\n")
        handle.write(",".join(_quoted(label) for label in source.labels) + "\n")
        for columns in source.blocks():
            _write_rows(handle, columns)


def _write_rows(handle: TextIO, columns: list[np.ndarray]) -> None:
    row_format = ",".join(["%r"] * len(columns)) + "\n"
    for start in range(0, len(columns[0]), BLOCK_ROWS):
        values = [column[start : start + BLOCK_ROWS].tolist() for column in columns]
        handle.write("".join(map(row_format.__mod__, zip(*values, strict=True))))


def _quoted(label: str) -> str:
    """``label`` as a CSV field: quoted if it holds a comma, a quote or a line break."""
    if any(char in label for char in ',"\r\n'):
        return '"' + label.replace('"', '""') + '"'
    return label


def _one_line(value: str) -> str:
    return value.replace("\r", "\\r").replace("\n", "\\n")
