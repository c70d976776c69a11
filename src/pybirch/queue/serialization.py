"""Saving a queue to a JSON-able dict and rebuilding it.

The description holds the queue's id, mode and parallel limit, every scan in order (its
id, state, progress, times, error message, settings through ``ScanSettings.to_dict``,
sample through ``Sample.to_dict``, buffer size and flush interval) and the log.

Rebuilding gives an IDLE queue (it never starts by itself):

* queued scans are queued again, with their ids, and run on ``start()``;
* finished scans are history: their handles keep the saved state, progress and error
  message, and their (new) scan objects never run;
* scans that were running or paused when the queue was saved cannot continue in a new
  process: they become history as ABORTED, with an error message saying so.

Extensions given to ``Scan(extensions=...)`` rather than in the settings are not saved;
whoever rebuilds the queue adds them again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pybirch.errors import PyBirchError
from pybirch.queue.errors import QueueError
from pybirch.queue.handle import ScanHandle
from pybirch.queue.log import LogEntry
from pybirch.queue.samples import Sample
from pybirch.scan import Scan, ScanSettings
from pybirch.scan.state import ScanState

if TYPE_CHECKING:
    from pybirch.queue.queue import Queue

#: Identifies a saved queue, and the version of its layout.
FORMAT = "pybirch.queue"
VERSION = 1


def queue_to_dict(queue: Queue) -> dict[str, Any]:
    """Describe ``queue`` (see the module docstring)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "queue_id": queue.QID,
        "mode": queue.mode.value,
        "max_parallel_scans": queue.max_parallel_scans,
        "state": queue.state.value,
        "scans": [handle_to_dict(handle) for handle in queue.handles],
        "logs": [entry.to_dict() for entry in queue.get_logs()],
    }


def queue_to_json(queue: Queue, **kwargs: Any) -> str:
    """Describe ``queue`` as a JSON document."""
    return json.dumps(queue_to_dict(queue), allow_nan=False, **kwargs)


def queue_from_dict(data: dict[str, Any], cls: type[Queue]) -> Queue:
    """Rebuild a queue of class ``cls`` from :func:`queue_to_dict` output."""
    _check_header(data)
    try:
        queue = cls(
            data["queue_id"],
            max_parallel_scans=data.get("max_parallel_scans", 1),
            mode=data.get("mode", "serial"),
        )
        for entry in data.get("scans", []):
            _restore_handle(queue, entry)
        queue._restore_logs(LogEntry.from_dict(e) for e in data.get("logs", []))
    except PyBirchError:
        raise  # already says what is wrong (a sample, an instrument, scan settings)
    except (KeyError, TypeError, ValueError) as exc:
        raise QueueError(f"invalid queue description: {type(exc).__name__}: {exc}") from exc
    return queue


def queue_from_json(text: str, cls: type[Queue]) -> Queue:
    """Rebuild a queue from :func:`queue_to_json` output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueueError(f"a saved queue must be JSON: {exc}") from exc
    return queue_from_dict(data, cls)


def handle_to_dict(handle: ScanHandle) -> dict[str, Any]:
    """Describe one scan of a queue: its place, timeline and the scan itself."""
    return {
        "scan_id": handle.scan_id,
        "state": handle.state.value,
        "progress": handle.progress,
        "added_at": _iso(handle.added_at),
        "started_at": _iso(handle.started_at),
        "finished_at": _iso(handle.finished_at),
        "error": handle.error_message,
        "scan": scan_to_dict(handle.scan),
    }


def scan_to_dict(scan: Scan) -> dict[str, Any]:
    """Describe a scan: settings, sample, buffer size and flush interval."""
    sample = scan.sample
    if sample is not None and not isinstance(sample, Sample):
        raise QueueError(
            f"scan {scan.settings.scan_name!r}: cannot save a sample of type "
            f"{type(sample).__name__}; use pybirch.queue.Sample"
        )
    return {
        "settings": scan.settings.to_dict(),
        "sample": None if sample is None else sample.to_dict(),
        "buffer_size": scan.buffer_size,
        "flush_interval": scan.flush_interval,
    }


def scan_from_dict(data: dict[str, Any]) -> Scan:
    """Rebuild a scan (instruments through the registry, sample through ``Sample``)."""
    sample = data.get("sample")
    return Scan(
        ScanSettings.from_dict(data["settings"]),
        sample=None if sample is None else Sample.from_dict(sample),
        buffer_size=data.get("buffer_size"),
        flush_interval=data.get("flush_interval"),
    )


def _restore_handle(queue: Queue, entry: dict[str, Any]) -> None:
    state = ScanState(entry["state"])
    handle = ScanHandle(
        scan_from_dict(entry["scan"]),
        scan_id=entry["scan_id"],
        added_at=_time(entry.get("added_at")),
    )
    if state is ScanState.QUEUED:
        queue._add(handle.scan, handle)
        return
    handle.started_at = _time(entry.get("started_at"))
    handle.finished_at = _time(entry.get("finished_at"))
    error = entry.get("error")
    if state.active:
        error = f"interrupted: the scan was {state.value} when the queue was saved"
        state = ScanState.ABORTED
    handle._record(state, float(entry.get("progress", 0.0)), error)
    queue._add_history(handle)


def _check_header(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QueueError(f"not a saved PyBirch queue (expected format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise QueueError(
            f"saved queue has layout version {data.get('version')!r}; "
            f"this PyBirch reads version {VERSION}"
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
