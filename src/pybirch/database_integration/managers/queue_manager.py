"""QueueManager: queue records, their status, progress and logs."""

from __future__ import annotations

from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import QueueLog
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration.serializers import create_queue_from_pybirch
from pybirch.queue.log import LogEntry
from pybirch.queue.queue import Queue

#: Scan statuses of scans a recovered queue still owes.
INCOMPLETE_SCAN_STATUSES = ("queued", "running", "paused", "interrupted")


class QueueManager:
    """Bridges PyBirch queues and their database records."""

    def __init__(self, db: DatabaseService) -> None:
        self.db = db

    def create_queue(self, queue: Queue, **fields: Any) -> QueueRecord:
        """The record of a PyBirch queue (reused if its QID is stored in its lab, ``lab_id``)."""
        return create_queue_from_pybirch(self.db, queue, **fields)

    def get_queue(self, queue_id: int | str, *, lab_id: int | None = None) -> QueueRecord:
        """The record by database id, or by QID within lab ``lab_id``."""
        return self.db.get_queue(queue_id, lab_id=lab_id)

    def set_status(self, queue_id: int, status: str, **fields: Any) -> QueueRecord:
        """Record a queue status (``idle``, ``running``, ``paused``, ``stopping``...)."""
        return self.db.update_queue_status(queue_id, status, **fields)

    def start_queue(self, queue_id: int) -> QueueRecord:
        """Mark a queue running."""
        return self.set_status(queue_id, "running")

    def pause_queue(self, queue_id: int) -> QueueRecord:
        """Mark a queue paused."""
        return self.set_status(queue_id, "paused")

    def resume_queue(self, queue_id: int) -> QueueRecord:
        """Mark a queue running again."""
        return self.set_status(queue_id, "running")

    def stop_queue(self, queue_id: int) -> QueueRecord:
        """Mark a queue stopping."""
        return self.set_status(queue_id, "stopping")

    def complete_queue(self, queue_id: int) -> QueueRecord:
        """Mark a queue completed."""
        return self.set_status(queue_id, "completed")

    def update_progress(self, queue_id: int, completed_scans: int, total_scans: int) -> QueueRecord:
        """Record how many of the queue's scans have finished."""
        return self.db.update_queue(
            queue_id, completed_scans=completed_scans, total_scans=total_scans
        )

    def add_log(
        self, queue_id: int, entry: LogEntry, scan_record_id: int | None = None
    ) -> QueueLog:
        """Persist one queue log entry (also in the scan's log when it is about one)."""
        if scan_record_id is not None:
            self.db.add_scan_log(scan_record_id, entry.level, entry.message, entry.timestamp)
        return self.db.add_queue_log(
            queue_id, entry.level, entry.message, scan_id=entry.scan_id, timestamp=entry.timestamp
        )

    def get_incomplete_scans(self, queue_id: int) -> list[ScanRecord]:
        """The queue's scans that never finished and were not run again since."""
        return [
            scan
            for scan in self.db.get_queue_with_scans(queue_id).scans
            if scan.status in INCOMPLETE_SCAN_STATUSES
            and "requeued_as" not in (scan.extra_data or {})
        ]

    def note_requeued(self, record: ScanRecord, new_scan_id: str) -> None:
        """Record that an incomplete scan runs again as ``new_scan_id`` (a queued one ends)."""
        extra = {**(record.extra_data or {}), "requeued_as": new_scan_id}
        if record.status == "queued":
            self.db.update_scan_status(
                record.id, "aborted", error_message="re-queued", extra_data=extra
            )
        else:
            self.db.update_scan(record.id, extra_data=extra)

    def mark_interrupted(self, queue_id: int, reason: str) -> list[ScanRecord]:
        """Mark a queue whose process died, and its running scans, interrupted."""
        return self.db.mark_interrupted(queue_id, reason)
