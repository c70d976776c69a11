"""Write each measurement of a scan to its own CSV file as the batches arrive."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

import pandas as pd

from pybirch.scan import ScanExtension

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(text: str) -> str:
    """A file-name-safe version of a scan or measurement name."""
    return _UNSAFE.sub("_", text).strip("_") or "unnamed"


class CsvWriterExtension(ScanExtension):
    """One CSV per measurement: ``# key: value`` metadata lines, then ``name (unit)`` columns.

    Files are written as data arrives, so a crash leaves every delivered batch on disk.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        #: Path of each measurement's file, once its first batch arrived.
        self.paths: dict[str, Path] = {}
        self._files: dict[str, IO[str]] = {}

    def config(self) -> dict[str, Any]:
        """The directory is all it takes to rebuild this extension."""
        return {"directory": str(self.directory)}

    def startup(self) -> None:
        """Create the output directory."""
        self.directory.mkdir(parents=True, exist_ok=True)

    def save_data(self, df: pd.DataFrame, measurement_name: str) -> None:
        """Append a batch to the measurement's file, opening it on the first batch."""
        handle = self._files.get(measurement_name)
        if handle is None:
            handle = self._open(measurement_name)
            df.to_csv(handle, index=False)
        else:
            df.to_csv(handle, index=False, header=False)
        handle.flush()

    def shutdown(self) -> None:
        """Close every file."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _open(self, measurement_name: str) -> IO[str]:
        scan = self.scan
        stem = f"{safe_filename(scan.name)}_{safe_filename(measurement_name)}"
        path = self.directory / f"{stem}.csv"
        counter = 1
        while path.exists():
            counter += 1
            path = self.directory / f"{stem}_{counter}.csv"
        handle = path.open("w", encoding="utf-8", newline="")
        for key, value in self._metadata(measurement_name).items():
            handle.write(f"# {key}: {value}\n")
        self.paths[measurement_name] = path
        self._files[measurement_name] = handle
        return handle

    def _metadata(self, measurement_name: str) -> dict[str, str]:
        scan = self.scan
        settings = scan.settings
        sample = scan.sample
        return {
            "project": settings.project_name,
            "scan": settings.scan_name,
            "scan_type": settings.scan_type,
            "job_type": settings.job_type,
            "measurement": measurement_name,
            "sample": getattr(sample, "ID", "") if sample is not None else "",
            "tags": ", ".join(settings.additional_tags),
            "user_fields": json.dumps(settings.user_fields, default=str),
            "instruments": json.dumps(scan.instrument_snapshot, default=str),
        }
