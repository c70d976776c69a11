"""Database records as JSON documents of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybirch.database import MeasurementData
from pybirch.database.models import MeasurementObject, Queue, Scan
from pybirch.realtime.json_numbers import json_numbers


def iso(moment: datetime | None) -> str | None:
    """A timestamp in ISO 8601 (UTC), or None."""
    return None if moment is None else moment.isoformat()


def scan_summary(scan: Scan) -> dict[str, Any]:
    """What a list of scans shows of each."""
    return {
        "scan_id": scan.scan_id,
        "scan_name": scan.scan_name,
        "project_name": scan.project_name,
        "scan_type": scan.scan_type,
        "job_type": scan.job_type,
        "status": scan.status,
        "operator": scan.operator,
        "lab_id": scan.lab_id,
        "queue_id": scan.queue_id,
        "points_done": scan.points_done,
        "total_points": scan.total_points,
        "progress": scan.progress,
        "created_at": iso(scan.created_at),
        "started_at": iso(scan.started_at),
        "completed_at": iso(scan.completed_at),
        "notes": scan.notes or "",
        "tags": list(scan.tags or []),
    }


def queue_summary(queue: Queue) -> dict[str, Any]:
    """A queue as the API lists it."""
    return {
        "id": queue.id,
        "queue_id": queue.queue_id,
        "name": queue.name,
        "status": queue.status,
        "lab_id": queue.lab_id,
        "operator": queue.operator,
        "computer_name": queue.computer_name,
        "execution_mode": queue.execution_mode,
        "total_scans": queue.total_scans,
        "completed_scans": queue.completed_scans,
        "started_at": iso(queue.started_at),
        "completed_at": iso(queue.completed_at),
    }


def scan_document(scan: Scan, measurements: list[tuple[MeasurementObject, int]]) -> dict[str, Any]:
    """A scan with its settings, instruments and measurements."""
    return {
        **scan_summary(scan),
        "computer_name": scan.computer_name,
        "error_message": scan.error_message,
        "sample_id": scan.sample_id,
        "scan_tree": scan.scan_tree_data,
        "instrument_settings": scan.instrument_settings,
        "driver_versions": scan.driver_versions,
        "measurements": [
            {
                "name": measurement.name,
                "instrument": measurement.instrument_name,
                "columns": measurement.columns,
                "point_shape": measurement.point_shape,
                "rows": rows,
            }
            for measurement, rows in measurements
        ],
    }


def data_document(data: MeasurementData) -> dict[str, Any]:
    """Rows of a measurement, column by column (NaN and infinities as null)."""
    return {
        "measurement": data.name,
        "first_row": data.first_row,
        "rows": len(data),
        "row_index": data.row_index.tolist(),
        "point_index": data.point_index.tolist(),
        "columns": {label: json_numbers(column) for label, column in data.columns.items()},
        "units": data.units,
    }
