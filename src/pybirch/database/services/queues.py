"""Queues: records, status, logs, and marking runs a crash cut short."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import defer, selectinload

from pybirch.database.errors import DatabaseError, NotFoundError
from pybirch.database.models import (
    MeasurementChunk,
    MeasurementObject,
    Queue,
    QueueLog,
    Scan,
    utcnow,
)
from pybirch.database.models.scans import ACTIVE_SCAN_STATUSES, QUEUE_STATUSES
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.paging import Page
from pybirch.database.services.scans import HEAVY_SCAN_COLUMNS

#: Queue statuses of a queue that was running when its process went away.
#: Statuses of a queue some process is running.
LIVE_QUEUE_STATUSES = ("running", "paused", "stopping")


class QueuesMixin(ServiceCore):
    """Create, follow and recover queues."""

    def create_queue(self, queue_id: str, **fields: Any) -> Queue:
        """A new queue record for the QID ``queue_id``."""
        fields.setdefault("computer_name", socket.gethostname())
        fields.setdefault("name", queue_id)
        return self._create(Queue, queue_id=queue_id, **fields)

    def create_queue_from_pybirch(self, pybirch_queue: Any, **fields: Any) -> Queue:
        """The record of a PyBirch ``Queue`` (its QID, mode, parallelism), made or reused.

        A QID names one queue: a new PyBirch queue with a stored QID takes over its record.
        """
        fields.setdefault("execution_mode", str(pybirch_queue.mode.value))
        fields.setdefault("max_parallel_scans", int(pybirch_queue.max_parallel_scans))
        with self.session() as session:
            queue = session.scalar(select(Queue).where(Queue.queue_id == pybirch_queue.QID))
            if queue is None:
                fields.setdefault("computer_name", socket.gethostname())
                fields.setdefault("name", pybirch_queue.QID)
                queue = Queue(queue_id=pybirch_queue.QID, status="idle", **fields)
                session.add(queue)
            else:
                fields.pop("created_by_id", None)  # the record keeps its creator
                for name, value in fields.items():
                    setattr(queue, name, value)
            session.flush()
            return queue

    def get_queue(self, queue_id: int | str) -> Queue:
        """The queue with this database id (int) or QID (str)."""
        with self.session() as session:
            return self._queue(session, queue_id)

    def get_queue_with_scans(self, queue_id: int | str, *, with_settings: bool = True) -> Queue:
        """The queue with its scans loaded (oldest first).

        ``with_settings=False`` leaves out the scans' columns that grow with their size, as
        :meth:`get_scan` does.
        """
        scans = selectinload(Queue.scans)
        if not with_settings:
            scans = scans.options(*(defer(c, raiseload=True) for c in HEAVY_SCAN_COLUMNS))
        with self.session() as session:
            return self._queue(session, queue_id, scans)

    def update_queue(self, queue_id: int, **fields: Any) -> Queue:
        """Change a queue's fields."""
        if "status" in fields:
            _check_status(fields["status"])
        return self._update(Queue, queue_id, **fields)

    def update_queue_status(self, queue_id: int, status: str, **fields: Any) -> Queue:
        """Set a queue's status; start and end times are filled in when first reached."""
        _check_status(status)
        with self.session() as session:
            queue = self._get(session, Queue, queue_id)
            queue.status = status
            if status == "running" and queue.started_at is None:
                queue.started_at = utcnow()
            if status in ("completed", "aborted", "interrupted"):
                queue.completed_at = utcnow()
            for name, value in fields.items():
                setattr(queue, name, value)
            return queue

    def add_queue_log(
        self,
        queue_id: int,
        level: str,
        message: str,
        scan_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> QueueLog:
        """Append a log entry to a queue."""
        return self._create(
            QueueLog,
            queue_id=queue_id,
            level=level,
            message=message,
            scan_id=scan_id,
            timestamp=timestamp or utcnow(),
        )

    def add_queue_logs(self, queue_id: int, entries: Iterable[dict[str, Any]]) -> int:
        """Append many entries (dicts of level, message, scan_id, timestamp) at once."""
        rows = [
            QueueLog(
                queue_id=queue_id,
                level=entry["level"],
                message=entry["message"],
                scan_id=entry.get("scan_id"),
                timestamp=entry.get("timestamp") or utcnow(),
            )
            for entry in entries
        ]
        with self.session() as session:
            session.add_all(rows)
        return len(rows)

    def get_queue_logs(
        self, queue_id: int, after_id: int = 0, limit: int = 1000, level: str | None = None
    ) -> list[QueueLog]:
        """A queue's log entries after ``after_id``, oldest first."""
        statement = self._filtered(QueueLog, queue_id=queue_id, level=level).where(
            QueueLog.id > after_id
        )
        with self.session() as session:
            return list(session.scalars(statement.order_by(QueueLog.id).limit(limit)))

    def search_queues(
        self,
        text: str | None = None,
        *,
        lab_id: int | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Queue]:
        """Queues matching the filters, most recently changed first."""
        return self._search(
            self._filtered(Queue, lab_id=lab_id, status=status).order_by(
                Queue.updated_at.desc(), Queue.id.desc()
            ),
            text=text,
            text_columns=(Queue.queue_id, Queue.name, Queue.operator),
            page=page,
            per_page=per_page,
        )

    def delete_queue(self, queue_id: int) -> None:
        """Delete a queue and its logs; its scans stay, without a queue."""
        self._delete(Queue, queue_id)

    def mark_interrupted(self, queue_id: int, reason: str = "interrupted") -> list[Scan]:
        """Mark a queue whose process died, and its running or paused scans, interrupted.

        Returns the scans marked. Queued scans stay queued so they can run later.
        """
        now = utcnow()
        with self.session() as session:
            queue = self._get(session, Queue, queue_id)
            scans = list(
                session.scalars(
                    select(Scan).where(
                        Scan.queue_id == queue_id, Scan.status.in_(ACTIVE_SCAN_STATUSES)
                    )
                )
            )
            for scan in scans:
                scan.status = "interrupted"
                scan.error_message = reason
                scan.completed_at = now
                scan.points_done = _stored_points(session, scan.id)
                scan.progress = scan.points_done / scan.total_points if scan.total_points else 0.0
            if queue.status in LIVE_QUEUE_STATUSES:
                queue.status = "interrupted"
                queue.completed_at = now
            session.add(
                QueueLog(
                    queue_id=queue_id,
                    level="WARNING",
                    message=f"{reason}: {len(scans)} scan(s) marked interrupted",
                    timestamp=now,
                )
            )
            return scans

    def mark_scans_interrupted(self, scan_ids: Iterable[int], reason: str) -> int:
        """Mark scans that are still running or paused as interrupted; returns how many."""
        with self.session() as session:
            result = session.execute(
                update(Scan)
                .where(Scan.id.in_(list(scan_ids)), Scan.status.in_(ACTIVE_SCAN_STATUSES))
                .values(status="interrupted", error_message=reason, completed_at=utcnow())
            )
            return int(result.rowcount or 0)

    def _queue(self, session: Any, queue_id: int | str, *options: Any) -> Queue:
        column = Queue.id if isinstance(queue_id, int) else Queue.queue_id
        queue = session.scalar(select(Queue).where(column == queue_id).options(*options))
        if queue is None:
            raise NotFoundError("Queue", queue_id)
        return queue


def _stored_points(session: Any, scan_id: int) -> int:
    """Points stored for a scan, over all its measurements."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(MeasurementChunk.point_count), 0))
            .join(MeasurementObject, MeasurementObject.id == MeasurementChunk.measurement_object_id)
            .where(MeasurementObject.scan_id == scan_id)
        )
    )


def _check_status(status: str) -> None:
    if status not in QUEUE_STATUSES:
        raise DatabaseError(f"unknown queue status {status!r}; use one of {QUEUE_STATUSES}")
