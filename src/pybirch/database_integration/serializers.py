"""Turning engine objects (samples, scans, queues, batches, instruments) into what the
database stores, and stored samples back into engine objects.

Storage (:mod:`pybirch.database`) takes and gives plain columns; the functions taking a
:class:`DatabaseService` first are the engine-side ways to create or update its rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import Sample as SampleRecord
from pybirch.database.models import Scan as ScanRecord
from pybirch.database.storage import ChunkData, Layout
from pybirch.instruments.driver_origin import driver_origin
from pybirch.queue.queue import Queue
from pybirch.queue.samples import Sample
from pybirch.sample_images import decode_png, encode_png
from pybirch.scan.batch import DataBatch
from pybirch.scan.scan import Scan
from pybirch.scan.settings import ScanSettings

# -- samples -----------------------------------------------------------------------------


def sample_columns(sample: Sample) -> dict[str, Any]:
    """The sample row's columns for a PyBirch sample: ID, material, tags and PNG image."""
    sample.validate()
    return {
        "sample_id": sample.ID,
        "material": sample.material,
        "additional_tags": list(sample.additional_tags),
        "image_png": None if sample.image is None else encode_png(sample.image),
    }


def to_pybirch_sample(record: SampleRecord) -> Sample:
    """A stored sample as a :class:`pybirch.queue.Sample` (image included)."""
    image = None if record.image_png is None else decode_png(record.image_png, record.sample_id)
    return Sample(
        ID=record.sample_id,
        material=record.material or "",
        additional_tags=list(record.additional_tags or []),
        image=image,
    )


def create_sample_from_pybirch(db: DatabaseService, sample: Sample, **fields: Any) -> SampleRecord:
    """Store a PyBirch sample (with its image); ``fields`` sets the other columns (lab_id...)."""
    return db.create_sample(**{**fields, **sample_columns(sample)})


def update_sample_from_pybirch(db: DatabaseService, sample_pk: int, sample: Sample) -> SampleRecord:
    """Copy a PyBirch sample's ID, material, tags and image into a stored sample."""
    return db.update_sample(sample_pk, **sample_columns(sample))


# -- scans and queues ----------------------------------------------------------------------


def scan_settings_columns(settings: ScanSettings) -> dict[str, Any]:
    """The scan row's columns for scan settings: names, types, tree and extras."""
    # Irregular positions stay arrays: stored as bytes, never as one JSON number each.
    described = settings.to_dict(arrays=True)
    return {
        "project_name": described["project_name"],
        "scan_name": described["scan_name"],
        "scan_type": described.get("scan_type", ""),
        "job_type": described.get("job_type", ""),
        "scan_tree_data": described["scan_tree"],
        "extra_data": {
            "extensions": described.get("extensions", []),
            "user_fields": described.get("user_fields", {}),
            "additional_tags": described.get("additional_tags", []),
        },
    }


def create_scan_from_settings(
    db: DatabaseService, settings: ScanSettings, **fields: Any
) -> ScanRecord:
    """A scan record (status ``queued``) for scan settings; ``fields`` override its columns."""
    return db.create_scan(**{**scan_settings_columns(settings), **fields})


def create_scan_from_pybirch(
    db: DatabaseService, scan: Scan, queue_id: int | None = None, **fields: Any
) -> ScanRecord:
    """A scan record for a PyBirch scan: settings, tree, point count and its stored sample."""
    fields.setdefault("total_points", int(scan.total_points))
    if fields.get("sample_id") is None and scan.sample is not None:
        stored = db.get_sample_by_id(scan.sample.ID, fields.get("lab_id"))
        fields["sample_id"] = stored.id if stored is not None else None
    return create_scan_from_settings(db, scan.settings, queue_id=queue_id, **fields)


def create_queue_from_pybirch(
    db: DatabaseService, queue: Queue, *, lab_id: int | None = None, **fields: Any
) -> QueueRecord:
    """The record of a PyBirch queue (its QID, mode, parallelism) in lab ``lab_id``.

    A queue whose QID is stored in its lab takes over that record, unless it is live
    (:class:`~pybirch.database.services.queues.QueueRunningError`); see
    :meth:`DatabaseService.create_or_reuse_queue`.
    """
    fields.setdefault("execution_mode", str(queue.mode.value))
    fields.setdefault("max_parallel_scans", int(queue.max_parallel_scans))
    return db.create_or_reuse_queue(queue.QID, lab_id=lab_id, **fields)


# -- measurement batches and instruments ---------------------------------------------------


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


def driver_versions(instruments: list[Any]) -> dict[str, dict[str, Any]]:
    """Each instrument's driver, by instrument name: where it comes from and which version.

    A stored definition is named with its id, version and code hash, so a scan's record
    says exactly which code took its data (see :func:`driver_origin`).
    """
    return {instrument.name: driver_origin(type(instrument)) for instrument in instruments}
