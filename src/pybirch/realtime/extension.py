"""RealtimeExtension: a scan's status and rows, published as live events (coalesced)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from pybirch.realtime.bus import EventBus
from pybirch.realtime.events import DataPoints, ScanStatus
from pybirch.realtime.json_numbers import json_numbers
from pybirch.scan.extension import ScanExtension

if TYPE_CHECKING:
    from pybirch.scan.batch import DataBatch
    from pybirch.scan.scan import Scan

#: Most data messages per second per scan: rows arriving faster are sent together.
MAX_MESSAGES_PER_SECOND = 20
#: Seconds between progress updates while rows flow (state changes go out at once).
PROGRESS_INTERVAL = 0.5


class RealtimeExtension(ScanExtension):
    """Publishes ``scan_status`` and ``data_point`` events of one scan on a bus.

    Not critical: a browser that cannot keep up never stops a measurement. Rows are held
    at most 1/MAX_MESSAGES_PER_SECOND seconds and sent together, so a scan at any speed
    sends at most that many data messages a second, each with the index of its first row.
    """

    critical = False

    def __init__(
        self, bus: EventBus, scan_id: str, lab_id: int | None = None, queue_id: int | None = None
    ) -> None:
        self.bus = bus
        self.scan_id = scan_id
        self.lab_id = lab_id
        self.queue_id = queue_id
        self._scan: Scan | None = None
        self._pending: dict[str, list[DataBatch]] = {}
        self._next_row: dict[str, int] = {}
        self._last_sent = 0.0
        self._last_progress = 0.0
        self._lock = threading.Lock()

    def set_scan_reference(self, scan: Scan) -> None:
        self._scan = scan

    def startup(self) -> None:
        self._status("running")

    def save_batch(self, batch: DataBatch) -> None:
        with self._lock:
            self._pending.setdefault(batch.measurement_name, []).append(batch)
            due = time.monotonic() - self._last_sent >= 1 / MAX_MESSAGES_PER_SECOND
        if due:
            self._send_pending()

    def on_pause(self) -> None:
        self._send_pending()
        # a pause for an instrument that stopped answering says which one, and why
        self._status("paused", None if self._scan is None else self._scan.waiting_for)

    def on_resume(self) -> None:
        self._status("running")

    def on_complete(self) -> None:
        self._send_pending()
        self._status("completed")

    def on_abort(self) -> None:
        self._send_pending()
        self._status("aborted")

    def on_error(self, exc: BaseException) -> None:
        self._send_pending()
        self._status("failed")

    def _send_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_sent = time.monotonic()
        for measurement, batches in pending.items():
            first_row = self._next_row.get(measurement, 0)
            columns = _columns(batches)
            self._next_row[measurement] = first_row + sum(b.row_count for b in batches)
            self.bus.publish(DataPoints(self.scan_id, measurement, first_row, columns, self.lab_id))
        now = time.monotonic()
        if pending and self._scan is not None and now - self._last_progress >= PROGRESS_INTERVAL:
            self._status(self._scan.state.value)

    def _status(self, status: str, message: str | None = None) -> None:
        self._last_progress = time.monotonic()
        progress = 0.0 if self._scan is None else self._scan.progress
        if status == "completed":
            progress = 1.0
        self.bus.publish(
            ScanStatus(self.scan_id, status, progress, self.lab_id, self.queue_id, message=message)
        )


def _columns(batches: list[DataBatch]) -> dict[str, list[float | None]]:
    """Every column of the batches, joined, as JSON-able lists (NaN and infinities null)."""
    columns = [batch.columns() for batch in batches]
    joined = {label: np.concatenate([c[label] for c in columns]) for label in columns[0]}
    return {label: json_numbers(values) for label, values in joined.items()}
