"""Turning engine objects (batches, instruments) into what the database stores."""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.database.storage import ChunkData, Layout
from pybirch.scan.batch import DataBatch


def batch_layout(batch: DataBatch) -> Layout:
    """The stored column layout of a batch's measurement."""
    return Layout.build(list(batch.data_columns), list(batch.position_columns))


def batch_to_chunk(batch: DataBatch, first_row: int) -> ChunkData:
    """A batch as chunk columns: data per row, positions and timestamp per point."""
    by_column = np.ascontiguousarray(batch.values.T)  # one copy; each column is then contiguous
    positions = batch.point_positions
    columns = [
        *by_column,
        *(positions[label] for label in batch.position_columns),
        batch.point_timestamps,
    ]
    rows = batch.rows_per_point
    rows_per_point: int | None = 1
    point_rows = None
    if rows is not None:
        if np.all(rows == rows[0]):
            rows_per_point = int(rows[0])
        else:
            rows_per_point, point_rows = None, rows
    return ChunkData(
        first_row=first_row,
        first_point=batch.first_point,
        columns=list(columns),
        row_count=batch.row_count,
        point_count=batch.point_count,
        rows_per_point=rows_per_point,
        point_rows=point_rows,
    )


def driver_versions(instruments: list[Any]) -> dict[str, dict[str, str]]:
    """Each instrument's driver: class path and the version of the package it comes from."""
    import importlib.metadata

    versions = {}
    for instrument in instruments:
        kind = type(instrument)
        package = kind.__module__.split(".")[0]
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = getattr(instrument, "driver_version", "unknown")
        versions[instrument.name] = {
            "class": f"{kind.__module__}.{kind.__qualname__}",
            "version": str(getattr(instrument, "driver_version", version)),
        }
    return versions
