"""Parquet: one file per measurement, one row group per stored chunk.

The scan's and the measurement's metadata are the schema's key-value metadata; each field
keeps ``units`` and ``kind`` in its own metadata. Columns are not nullable: a missing
reading is NaN, as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pybirch.database.export.source import MeasurementSource

SUFFIX = ".parquet"


def write_parquet(path: Path, sources: Sequence[MeasurementSource]) -> None:
    """Write the one measurement in ``sources`` to ``path``, a row group per chunk."""
    (source,) = sources
    schema = _schema(source)
    with pq.ParquetWriter(path, schema) as writer:
        for columns in source.blocks():
            table = pa.Table.from_arrays([pa.array(values) for values in columns], schema=schema)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))


def _schema(source: MeasurementSource) -> pa.Schema:
    fields = [
        pa.field(
            column.label,
            pa.from_numpy_dtype(column.dtype),
            nullable=False,
            metadata={"units": column.unit, "kind": column.kind},
        )
        for column in source.columns
    ]
    return pa.schema(fields, metadata=source.metadata)
