"""Queues: records, status, logs, and marking runs a crash cut short."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from pybirch.database.errors import DatabaseError, DuplicateError, NotFoundError
from pybirch.database.models import (
    MeasurementChunk,
    MeasurementObject,
    Queue,
    QueueLog,
    Scan,
    utcnow,
)
from pybirch.database.models.scans import ACTIVE_SCAN_STATUSES, QUEUE_STATUSES
from pybirch.database.services.core import ServiceCore, _check_fields
from pybirch.database.services.paging import Page
from pybirch.database.services.scans import scan_loading

#: Queue statuses of a queue that was running when its process went away.
#: Statuses of a queue some process is running.
LIVE_QUEUE_STATUSES = ("running", "paused", "stopping")


class QueueRunningError(DatabaseError):
    """A new queue was asked for under the name of a queue that still runs."""


class QueuesMixin(ServiceCore):
    """Create, follow and recover queues."""

    def create_queue(self, queue_id: str, *, lab_id: int | None = None, **fields: Any) -> Queue:
        """A new queue record for the QID ``queue_id`` in lab ``lab_id``.

        Raises :class:`DuplicateError` if the lab has a queue of that QID already.
        """
        fields.setdefault("computer_name", socket.gethostname())
        fields.setdefault("name", queue_id)
        _check_fields(Queue, fields)
        with self.session() as session:
            # The unique constraint does not cover lab_id NULL (NULLs are distinct in SQL).
            if _by_qid(session, queue_id, lab_id) is not None:
                raise DuplicateError(f"{_where(lab_id)} has a queue {queue_id!r} already")
            queue = Queue(queue_id=queue_id, lab_id=lab_id, **fields)
            session.add(queue)
            session.flush()
            return queue

    def create_or_reuse_queue(
        self, queue_id: str, *, lab_id: int | None = None, **fields: Any
    ) -> Queue:
        """The record of the QID ``queue_id`` in lab ``lab_id``: new (``idle``), or reused.

        A QID names one queue of a lab: a queue run again under a QID stored in its lab
        takes over that record, unless the record is live (:class:`QueueRunningError`); the
        caller marks a run it knows is dead before. A record never changes lab.
        """
        _check_fields(Queue, fields)
        with self.session() as session:
            queue = _by_qid(session, queue_id, lab_id, lock=True)
            if queue is None:
                fields.setdefault("computer_name", socket.gethostname())
                fields.setdefault("name", queue_id)
                queue = Queue(queue_id=queue_id, lab_id=lab_id, status="idle", **fields)
                session.add(queue)
            elif queue.status in LIVE_QUEUE_STATUSES:
                raise QueueRunningError(
                    f"queue {queue.queue_id!r} of {_where(lab_id)} is {queue.status} on "
                    f"{queue.computer_name}; stop it, or choose another name"
                )
            else:
                fields.pop("created_by_id", None)  # the record keeps its creator
                for name, value in fields.items():
                    setattr(queue, name, value)
            session.flush()
            return queue

    def get_queue(self, queue_id: int | str, *, lab_id: int | None = None) -> Queue:
        """The queue with this database id (int), or this QID (str) in lab ``lab_id``.

        A QID names a queue within one lab only; ``lab_id=None`` is the namespace of queues
        made without a lab (scripts).
        """
        with self.session() as session:
            return self._queue(session, queue_id, lab_id)

    def get_queue_with_scans(
        self, queue_id: int | str, *, lab_id: int | None = None, with_settings: bool = True
    ) -> Queue:
        """The queue (as :meth:`get_queue` finds it) with its scans loaded, oldest first.

        ``with_settings=False`` leaves out the scans' columns that grow with their size, as
        :meth:`get_scan` does.
        """
        scans = selectinload(Queue.scans).options(*scan_loading(with_settings))
        with self.session() as session:
            return self._queue(session, queue_id, lab_id, scans)

    def update_queue(self, queue_id: int, **fields: Any) -> Queue:
        """Change a queue's fields (never its lab)."""
        _refuse_lab_change(fields)
        if "status" in fields:
            _check_status(fields["status"])
        return self._update(Queue, queue_id, **fields)

    def update_queue_status(self, queue_id: int, status: str, **fields: Any) -> Queue:
        """Set a queue's status; start and end times are filled in when first reached."""
        _check_status(status)
        _refuse_lab_change(fields)
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

    def _queue(self, session: Any, queue_id: int | str, lab_id: int | None, *options: Any) -> Queue:
        if isinstance(queue_id, int):
            queue = session.scalar(select(Queue).where(Queue.id == queue_id).options(*options))
        else:
            queue = _by_qid(session, queue_id, lab_id, options=options)
        if queue is None:
            raise NotFoundError("Queue", queue_id)
        return queue


def _by_qid(
    session: Any, qid: str, lab_id: int | None, *, lock: bool = False, options: Any = ()
) -> Queue | None:
    """The queue of QID ``qid`` in lab ``lab_id`` (None: the queues of no lab)."""
    lab = Queue.lab_id.is_(None) if lab_id is None else Queue.lab_id == lab_id
    statement = select(Queue).where(Queue.queue_id == qid, lab).options(*options)
    # Locked so two processes making the same queue at once see each other (PostgreSQL).
    return session.scalar(statement.with_for_update() if lock else statement)


def _where(lab_id: int | None) -> str:
    return "the queues of no lab" if lab_id is None else f"lab {lab_id}"


def _refuse_lab_change(fields: dict[str, Any]) -> None:
    if "lab_id" in fields:
        raise DatabaseError("a queue never moves to another lab; make a new queue there")


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
