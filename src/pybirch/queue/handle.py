"""ScanHandle: one scan's place in a queue, its id and its timeline."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pybirch.queue.log import now
from pybirch.scan.state import ScanState

if TYPE_CHECKING:
    from pybirch.scan import Scan


class ScanHandle:
    """A scan in a queue: a unique ``scan_id``, the ``scan``, its state, progress and times.

    ``state``, ``progress`` and ``error`` read the live scan. A handle rebuilt from a saved
    queue for a scan that had already finished keeps the state, progress and error message
    it was saved with (its scan object is new and never runs): that is the queue's history.
    """

    def __init__(
        self, scan: Scan, scan_id: str | None = None, added_at: datetime | None = None
    ) -> None:
        #: Unique id of this scan in the queue (uuid4 hex); kept by ``replace`` and saving.
        self.scan_id: str = scan_id or uuid.uuid4().hex
        #: The scan itself.
        self.scan: Scan = scan
        #: When the scan was queued.
        self.added_at: datetime = added_at or now()
        #: When the queue started the scan's thread, or None.
        self.started_at: datetime | None = None
        #: When the scan ended (its thread returned, or it was aborted before starting).
        self.finished_at: datetime | None = None
        # Queue bookkeeping, guarded by the queue's lock. "launched": a thread was started
        # for the scan; "done": the scan ended and its thread (if any) has returned.
        self._launched = False
        self._done = False
        self._want_paused = False
        self._want_abort = False
        self._resources: frozenset[str] = frozenset()
        self._thread: threading.Thread | None = None
        # Set for history rebuilt from a saved queue, or when run() broke its contract.
        self._recorded_state: ScanState | None = None
        self._recorded_progress: float | None = None
        self._recorded_error: str | None = None
        # What run() raised, when it broke its contract by raising.
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<ScanHandle {self.scan_id[:8]} {self.name!r} {self.state.value}>"

    @property
    def name(self) -> str:
        """The scan's name, from its settings."""
        return str(self.scan.settings.scan_name)

    @property
    def state(self) -> ScanState:
        """The scan's state (the recorded one for history)."""
        return self._recorded_state or self.scan.state

    @property
    def progress(self) -> float:
        """Fraction of the scan's points done, from 0 to 1."""
        if self._recorded_progress is not None:
            return self._recorded_progress
        return float(self.scan.progress)

    @property
    def error(self) -> BaseException | None:
        """The exception that failed the scan, if it failed in this process."""
        if self._error is not None:
            return self._error
        return self.scan.error if self._recorded_state is None else None

    @property
    def error_message(self) -> str | None:
        """A one-line description of the error, also kept for history."""
        if self._recorded_error is not None:
            return self._recorded_error
        error = self.scan.error
        return None if error is None else f"{type(error).__name__}: {error}"

    @property
    def traceback(self) -> str | None:
        """The traceback of the scan's error, if it failed in this process."""
        return getattr(self.scan, "traceback", None) if self._recorded_state is None else None

    @property
    def active(self) -> bool:
        """True while the queue runs the scan: started and not yet returned (even if paused)."""
        return self._launched and not self._done

    @property
    def pending(self) -> bool:
        """True while the scan waits in the queue to be started."""
        return not self._launched and not self._done

    def summary(self) -> dict[str, Any]:
        """A JSON-able snapshot: id, names, sample, state, progress, times and error."""
        sample = getattr(self.scan, "sample", None)
        return {
            "scan_id": self.scan_id,
            "scan_name": self.name,
            "project_name": str(self.scan.settings.project_name),
            "sample_id": getattr(sample, "ID", None),
            "state": self.state.value,
            "progress": self.progress,
            "active": self.active,
            "added_at": _iso(self.added_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error_message,
        }

    def _record(self, state: ScanState, progress: float, error: str | None) -> None:
        """Freeze the handle's state, progress and error (history, or a broken contract)."""
        self._recorded_state = state
        self._recorded_progress = progress
        self._recorded_error = error


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
