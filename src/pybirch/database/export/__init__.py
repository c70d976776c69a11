"""Export a scan's measurements to CSV, HDF5 or Parquet, streamed chunk by chunk.

Every format carries the scan's metadata (ids, names, project, sample, operator, status,
times, instrument settings, scan tree, PyBirch version) and each column's label
``name (unit)``, followed by ``point_index``. An export reads one stored chunk at a time, so
its memory does not grow with the measurement.

- CSV and Parquet: one file per measurement, ``<scan name>_<measurement>.<suffix>``.
- HDF5: one file per scan, ``<scan name>.h5``, with a group per measurement.

A measurement with no rows yet is exported with its columns and metadata and no rows. A scan
with no measurement at all, an unknown format, scan or measurement, and a path that cannot
be written raise :class:`ExportError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pybirch.database.export import csv_format, hdf5_format, parquet_format
from pybirch.database.export.errors import ExportError, ExportNotFoundError
from pybirch.database.export.files import (
    atomic_output,
    is_directory_target,
    safe_filename,
    unique_names,
)
from pybirch.database.export.source import (
    MeasurementSource,
    ProgressCallback,
    RowCounter,
    find_measurements,
    find_scan,
    scan_metadata,
)

if TYPE_CHECKING:
    from pybirch.database.services import DatabaseService


@dataclass(frozen=True)
class ExportFormat:
    """A file format: its suffix, whether one file holds the whole scan, and its writer."""

    name: str
    suffix: str
    #: True if one file holds every measurement; False for a file per measurement.
    per_scan: bool
    write: Callable[[Path, Sequence[MeasurementSource]], None]


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", csv_format.SUFFIX, False, csv_format.write_csv),
    "hdf5": ExportFormat("hdf5", hdf5_format.SUFFIX, True, hdf5_format.write_hdf5),
    "parquet": ExportFormat("parquet", parquet_format.SUFFIX, False, parquet_format.write_parquet),
}


def export_scan(
    db: DatabaseService,
    scan_id: int | str,
    path_or_dir: str | os.PathLike[str],
    format: str = "csv",
    measurement: str | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write a scan's measurements (or the one named) to files; returns their paths.

    ``scan_id`` is the public hex id or the database id. ``path_or_dir`` is a directory
    (existing, ending in a separator, or new without a suffix), where files get names from
    the scan and measurement, or a file path when the export makes a single file.
    ``progress(rows_done, rows_total)`` is called before the first row and after each chunk.
    """
    export_format = get_format(format)
    scan = find_scan(db, scan_id)
    measurements = find_measurements(db, scan, measurement)
    counter = RowCounter(sum(db.get_row_count(m.id) for m in measurements), progress)
    metadata = scan_metadata(db, scan)
    sources = [MeasurementSource(db, m, metadata, counter) for m in measurements]
    written = []
    for path, group in _plan_files(export_format, scan.scan_name, sources, path_or_dir):
        with atomic_output(path) as partial:
            export_format.write(partial, group)
        written.append(path)
    return written


def get_format(name: str) -> ExportFormat:
    """The export format called ``name`` (``csv``, ``hdf5`` or ``parquet``)."""
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise ExportError(
            f"unknown export format {name!r}; use one of {', '.join(FORMATS)}"
        ) from None


def _plan_files(
    export_format: ExportFormat,
    scan_name: str,
    sources: list[MeasurementSource],
    target: str | os.PathLike[str],
) -> list[tuple[Path, list[MeasurementSource]]]:
    """Each file to write with the measurements it holds."""
    if export_format.per_scan:
        files = [(safe_filename(scan_name), sources)]
    else:
        files = [(f"{safe_filename(scan_name)}_{safe_filename(s.name)}", [s]) for s in sources]
    if is_directory_target(target):
        stems = unique_names([stem for stem, _ in files])
        directory = Path(target)
        return [
            (directory / f"{stem}{export_format.suffix}", group)
            for stem, (_, group) in zip(stems, files, strict=True)
        ]
    if len(files) != 1:
        names = ", ".join(source.name for source in sources)
        raise ExportError(
            f"scan {scan_name!r} has {len(files)} measurements ({names}) and {export_format.name} "
            f"holds one per file: give a directory, or name one measurement"
        )
    return [(Path(target), files[0][1])]


__all__ = [
    "FORMATS",
    "ExportError",
    "ExportFormat",
    "ExportNotFoundError",
    "export_scan",
    "get_format",
]
