"""What every export format writes: a scan's metadata and its measurements' columns, by chunk.

The formats never touch the database themselves: they get :class:`MeasurementSource`
objects whose :meth:`~MeasurementSource.blocks` yields one stored chunk's columns at a
time, so an export holds about one chunk in memory however long the measurement is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from pybirch import __version__
from pybirch.database.errors import NotFoundError
from pybirch.database.export.errors import ExportError, ExportNotFoundError
from pybirch.database.models import MeasurementObject, Scan
from pybirch.database.storage.layout import POINT_INDEX, Layout

if TYPE_CHECKING:
    from pybirch.database.services import DatabaseService

#: ``progress(rows_done, rows_total)``, called once before the first row and after each chunk.
ProgressCallback = Callable[[int, int], None]

#: Kind of the ``point_index`` column, computed on read rather than stored.
INDEX_KIND = "index"
#: Largest database id (32-bit on PostgreSQL); longer digit strings are public ids only.
_MAX_DATABASE_ID = 2**31 - 1


@dataclass(frozen=True)
class ExportColumn:
    """One exported column: its label ``name (unit)``, unit, kind and dtype."""

    label: str
    unit: str
    kind: str
    dtype: np.dtype[Any]


class RowCounter:
    """Counts the rows written and reports them to an optional progress callback."""

    def __init__(self, total: int, callback: ProgressCallback | None = None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._report()

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows as written."""
        self.done += rows
        # Rows stored while the export runs (a scan still measuring) raise the total.
        self.total = max(self.total, self.done)
        self._report()

    def _report(self) -> None:
        if self._callback is not None:
            self._callback(self.done, self.total)


class MeasurementSource:
    """One measurement of a scan as an export reads it: metadata, columns, chunks."""

    def __init__(
        self,
        db: DatabaseService,
        measurement: MeasurementObject,
        scan_metadata: dict[str, str],
        counter: RowCounter,
    ) -> None:
        self.name = measurement.name
        self.layout = Layout.from_json(measurement.columns)
        self.scan_metadata = scan_metadata
        self.measurement_metadata = measurement_metadata(measurement, self.layout)
        self.columns = [
            *(
                ExportColumn(spec.label, spec.unit, spec.kind, np.dtype(spec.dtype))
                for spec in self.layout.columns
            ),
            ExportColumn(POINT_INDEX, "", INDEX_KIND, np.dtype(np.int64)),
        ]
        self._db = db
        self._measurement_id = measurement.id
        self._counter = counter

    @property
    def metadata(self) -> dict[str, str]:
        """The scan's metadata followed by this measurement's."""
        return {**self.scan_metadata, **self.measurement_metadata}

    @property
    def labels(self) -> list[str]:
        """Every exported column label, in order: the layout's, then ``point_index``."""
        return [column.label for column in self.columns]

    def blocks(self) -> Iterator[list[np.ndarray]]:
        """Each stored chunk as one array per column of :attr:`columns`, in row order.

        A chunk counts as written (for progress) once the caller asks for the next one.
        """
        for data in self._db.iter_measurement(self._measurement_id):
            yield [data[column.label] for column in self.columns]
            self._counter.advance(len(data))


def find_scan(db: DatabaseService, scan_id: int | str) -> Scan:
    """The scan with this public id (hex str) or database id (int, or a str of digits)."""
    for key in _scan_keys(scan_id):
        try:
            return db.get_scan(key)
        except NotFoundError:
            continue
    raise ExportNotFoundError("scan", scan_id)


def _scan_keys(scan_id: int | str) -> list[int | str]:
    """The keys to try: a str as public id, then as database id if it is one."""
    keys: list[int | str] = []
    if isinstance(scan_id, str):
        keys.append(scan_id)
        if not (scan_id.isascii() and scan_id.isdigit()):
            return keys
    database_id = int(scan_id)
    if 0 < database_id <= _MAX_DATABASE_ID:
        keys.append(database_id)
    return keys


def find_measurements(
    db: DatabaseService, scan: Scan, name: str | None = None
) -> list[MeasurementObject]:
    """The scan's measurements (only the one called ``name`` if given)."""
    measurements = db.get_measurement_objects(scan.id)
    if name is not None:
        measurements = [m for m in measurements if m.name == name]
        if not measurements:
            raise ExportNotFoundError("measurement", f"{name} of scan {scan.scan_id}")
    if not measurements:
        raise ExportError(f"scan {scan.scan_id} ({scan.scan_name}) has no measurements to export")
    return measurements


def scan_metadata(db: DatabaseService, scan: Scan) -> dict[str, str]:
    """The scan's description, every value a one-line string (JSON for structures)."""
    sample_id = db.get_sample(scan.sample_id).sample_id if scan.sample_id is not None else ""
    project = scan.project_name
    if not project and scan.project_id is not None:
        project = db.get_project(scan.project_id).name
    return {
        "scan_id": scan.scan_id,
        "scan_name": scan.scan_name,
        "project": project,
        "sample_id": sample_id,
        "operator": scan.operator or "",
        "status": scan.status,
        "scan_type": scan.scan_type,
        "job_type": scan.job_type,
        "computer_name": scan.computer_name or "",
        "created_at": _iso(scan.created_at),
        "started_at": _iso(scan.started_at),
        "completed_at": _iso(scan.completed_at),
        "instrument_settings": _json(scan.instrument_settings),
        "driver_versions": _json(scan.driver_versions),
        "scan_tree": _json(scan.scan_tree_data),
        "pybirch_version": __version__,
    }


def measurement_metadata(measurement: MeasurementObject, layout: Layout) -> dict[str, str]:
    """A measurement's name, instrument, point shape and column layout, as strings."""
    return {
        "measurement": measurement.name,
        "instrument": measurement.instrument_name or "",
        "point_shape": _json(measurement.point_shape) if measurement.point_shape else "",
        "columns": _json(layout.to_json()),
    }


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
