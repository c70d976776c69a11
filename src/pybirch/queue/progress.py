"""Progress reports for a queue's active scans: only changes, at a bounded rate."""

from __future__ import annotations

import time

from pybirch.queue.callbacks import CallbackList
from pybirch.queue.handle import ScanHandle


class ProgressReporter:
    """Reports each active scan's progress when it changed, at a bounded rate."""

    def __init__(self, callbacks: CallbackList, interval: float) -> None:
        self._callbacks = callbacks
        self._interval = interval
        self._watched: dict[str, ScanHandle] = {}
        self._last: dict[str, float] = {}
        self._next_due = 0.0

    def report(self, active: list[ScanHandle]) -> None:
        """Report changed progress if due; always report the final value of ended scans."""
        for handle in active:
            self._watched.setdefault(handle.scan_id, handle)
        due = time.monotonic() >= self._next_due
        if due:
            self._next_due = time.monotonic() + self._interval
        for scan_id, handle in list(self._watched.items()):
            ended = handle._done  # read before progress, so an ended scan's value is final
            if ended or due:
                self._emit(scan_id, handle.progress)
            if ended:
                del self._watched[scan_id]
                self._last.pop(scan_id, None)

    def timeout(self) -> float | None:
        """How long the scheduler may sleep before the next report is due."""
        if not self._watched:
            return None
        return max(0.0, self._next_due - time.monotonic())

    def _emit(self, scan_id: str, progress: float) -> None:
        if self._last.get(scan_id) == progress:
            return
        self._last[scan_id] = progress
        self._callbacks.fire(scan_id, progress)
