"""DatabaseQueue: a Queue whose scans, states, progress and logs are kept in the database."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Collection
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import Scan as ScanRecord
from pybirch.database.services.queues import LIVE_QUEUE_STATUSES
from pybirch.database_integration.extensions.database_extension import DatabaseExtension
from pybirch.database_integration.lab_choice import NO_LAB, NoLab, lab_for_queue
from pybirch.database_integration.managers.data_manager import DataManager
from pybirch.database_integration.managers.queue_manager import (
    INCOMPLETE_SCAN_STATUSES,
    QueueManager,
)
from pybirch.database_integration.managers.scan_manager import ScanManager
from pybirch.database_integration.serializers import (
    create_sample_from_pybirch,
    to_pybirch_sample,
)
from pybirch.queue.errors import QueueStateError
from pybirch.queue.handle import ScanHandle
from pybirch.queue.log import LogEntry
from pybirch.queue.queue import Queue
from pybirch.queue.state import QueueState
from pybirch.scan.errors import ScanDefinitionError
from pybirch.scan.extension import ScanExtension
from pybirch.scan.scan import Scan
from pybirch.scan.state import ScanState

log = logging.getLogger(__name__)


class DatabaseQueue(Queue):
    """A :class:`Queue` that records itself and every scan it runs.

    Each scan enqueued gets a scan record (with the queue's project, sample and operator)
    and a :class:`DatabaseExtension`; all scans share one :class:`DataManager`. Queue
    states, scan states, progress and log entries are persisted as they happen.
    ``DatabaseQueue.from_database(db, QID, lab_id=...)`` picks a queue up again after a crash.

    The queue and its scans belong to the lab ``lab`` names (a lab's name or id; or
    ``lab_id``). Without either: the project's lab, else on an embedded (SQLite) database
    the default lab, the one the web UI's first admin sees (see
    :mod:`pybirch.database_integration.lab_choice`); else no lab (shown to no one in the
    web UI, with a warning).

    A QID names a queue within its lab. A stored queue of that QID in that lab is taken
    over, unless a live process still runs it (:class:`QueueStateError`).

    A scan on an instrument whose calibration or maintenance is overdue is recorded with a
    warning; if the lab blocks such scans, :meth:`enqueue` raises
    :class:`~pybirch.database_integration.OverdueInstrumentError` naming the instrument and
    its due date, and nothing is queued.
    """

    def __init__(
        self,
        QID: str,  # the name PyBirch users know
        db_service: DatabaseService,
        project_id: int | None = None,
        sample_id: int | None = None,
        operator: str | None = None,
        *,
        lab: int | str | NoLab | None = None,
        lab_id: int | None = None,
        data_manager: DataManager | None = None,
        force: bool = False,
        record_extra: dict[str, Any] | None = None,
        **queue_options: Any,
    ) -> None:
        super().__init__(QID, **queue_options)
        self.db = db_service
        self.project_id = project_id
        self.sample_id = sample_id
        self.operator = operator
        lab_id = lab_for_queue(db_service, lab, lab_id=lab_id, project_id=project_id)
        #: The lab of the queue's records (None: no lab, shown to no one in the web UI).
        self.lab_id = lab_id
        #: The computer that runs the queue, if a station said (its instruments are checked).
        self.computer_id: int | None = (record_extra or {}).get("computer_id")
        #: The operator's user record: who created the queue's records.
        self.operator_id = None if not operator else db_service.get_or_create_user(operator).id
        self.scan_manager = ScanManager(db_service)
        self.queue_manager = QueueManager(db_service)
        self.data_manager = data_manager or DataManager(db_service)
        self._owns_data = data_manager is None
        try:
            stored = db_service.get_queue(QID, lab_id=lab_id)
        except NotFoundError:
            stored = None
        if stored is not None:
            _refuse_if_live(stored, force)
            _mark_dead_run(self.queue_manager, stored)
        record = self.queue_manager.create_queue(
            self,
            lab_id=lab_id,
            project_id=project_id,
            sample_id=sample_id,
            operator=operator,
            computer_name=socket.gethostname(),
            extra_data={**(record_extra or {}), "pid": os.getpid()},
            created_by_id=self.operator_id,
        )
        #: Database id of the queue's record.
        self.db_queue_id = record.id
        self._records: dict[str, int] = {}
        self._extension_factories: list[Callable[[str], ScanExtension]] = []
        self.add_log_callback(self._persist_log)
        self.add_queue_state_callback(self._persist_queue_state)
        self.add_state_callback(self._persist_scan_state)

    @classmethod
    def from_database(
        cls,
        db: DatabaseService,
        QID: str,
        *,
        lab: int | str | NoLab | None = None,
        lab_id: int | None = None,
        force: bool = False,
        **options: Any,
    ) -> DatabaseQueue:  # the seed's name for it
        """The queue ``QID`` of lab ``lab`` after a restart: spool replayed, runs marked.

        Without a lab, the queue is looked for where :class:`DatabaseQueue` would put it,
        then among the queues of no lab (stored before labs were chosen by default).
        Refuses a queue a live process on this computer still runs, or one recorded as
        running on another computer unless ``force``.
        """
        record = _stored_queue(db, QID, lab_for_queue(db, lab, lab_id=lab_id))
        _refuse_if_live(record, force)
        data_manager = DataManager(db)  # replays what dead processes left in the spool
        _mark_dead_run(QueueManager(db), record)
        options.setdefault("mode", record.execution_mode)
        options.setdefault("max_parallel_scans", record.max_parallel_scans)
        queue = cls(
            QID,
            db,
            record.project_id,
            record.sample_id,
            record.operator,
            lab=NO_LAB if record.lab_id is None else record.lab_id,
            data_manager=data_manager,
            force=True,  # checked above; the dead run is marked already
            **options,
        )
        queue._owns_data = True
        return queue

    def get_incomplete_scans(self) -> list[ScanRecord]:
        """Records of this queue's scans that never finished, oldest first."""
        return self.queue_manager.get_incomplete_scans(self.db_queue_id)

    def requeue_incomplete(
        self, statuses: Collection[str] = INCOMPLETE_SCAN_STATUSES
    ) -> list[ScanHandle]:
        """Enqueue a new run of every incomplete scan, rebuilt from its stored settings.

        ``statuses`` narrows which: ``("queued",)`` takes only the scans that never started.
        A stored scan that cannot run any more (its tree is refused when queued) is recorded
        failed with the reason, and the others are queued still.
        """
        handles = []
        for record in self.get_incomplete_scans():
            if record.status not in statuses:
                continue
            settings = self.scan_manager.rebuild_settings(record)
            sample = None
            if record.sample_id is not None:
                sample = to_pybirch_sample(self.db.get_sample(record.sample_id))
            try:
                handle = self.enqueue(Scan(settings, sample))
            except ScanDefinitionError as exc:
                self.scan_manager.fail_scan(record.id, exc)
                self.log("ERROR", f"scan {record.scan_id} cannot run again: {exc}")
                continue
            self.queue_manager.note_requeued(record, handle.scan_id)
            self.log("INFO", f"re-queued scan {record.scan_id} as {handle.scan_id}")
            handles.append(handle)
        return handles

    def db_scan_id(self, scan_id: str) -> int:
        """Database id of the record of the queued scan ``scan_id``."""
        return self._records[scan_id]

    def wait_for_completion(self, timeout: float | None = None) -> bool:
        """Wait for the scans, then for their records and logs to be committed."""
        finished = super().wait_for_completion(timeout)
        return self.data_manager.flush(None if timeout is None else timeout) and finished

    def close(self) -> None:
        """Commit what is pending and release the data manager (if this queue made it)."""
        self.data_manager.flush(self.data_manager.commit_wait)
        if self._owns_data:
            self.data_manager.close()

    # -- recording -----------------------------------------------------------------------

    def _prepare_scan(self, scan: Scan, handle: ScanHandle) -> None:
        # Refused here if the lab blocks scans on overdue instruments: nothing is recorded.
        record = self.scan_manager.create_scan_from_pybirch(
            scan,
            computer_id=self.computer_id,
            queue_id=self.db_queue_id,
            scan_id=handle.scan_id,
            lab_id=self.lab_id,
            project_id=self.project_id,
            sample_id=self._sample_record_id(scan),
            operator=self.operator,
            created_by_id=self.operator_id,
        )
        self._records[handle.scan_id] = record.id
        scan.extensions.append(DatabaseExtension(self.db, record.id, self.data_manager))
        for factory in self._extension_factories:
            scan.extensions.append(factory(handle.scan_id))

    def add_scan_extension_factory(self, factory: Callable[[str], ScanExtension]) -> None:
        """Give every scan enqueued from now on ``factory(scan_id)`` as an extension too."""
        self._extension_factories.append(factory)

    def _sample_record_id(self, scan: Scan) -> int | None:
        """The queue's sample, or the scan's own (stored on first use)."""
        sample = scan.sample
        if sample is None:
            return self.sample_id
        stored = self.db.get_sample_by_id(sample.ID, self.lab_id)
        if stored is None:
            stored = create_sample_from_pybirch(
                self.db,
                sample,
                lab_id=self.lab_id,
                project_id=self.project_id,
                created_by_id=self.operator_id,
            )
        return stored.id

    def _persist_log(self, entry: LogEntry) -> None:
        self.data_manager.call(
            "recording a queue log entry",
            self.queue_manager.add_log,
            self.db_queue_id,
            entry,
            None if entry.scan_id is None else self._records.get(entry.scan_id),
        )

    def _persist_queue_state(self, state: QueueState) -> None:
        self.data_manager.call(
            f"recording queue {self.QID} as {state.value}",
            self.queue_manager.set_status,
            self.db_queue_id,
            state.value,
        )

    def _persist_scan_state(self, scan_id: str, state: ScanState) -> None:
        record_id = self._records.get(scan_id)
        if record_id is None or not (state.finished or state is ScanState.RUNNING):
            return
        # Counted when the writer runs it, so two scans ending together cannot race; a
        # start counts too, so a queue's first scan shows while it runs.
        self.data_manager.call("recording queue progress", self._record_progress)
        # A scan aborted before it started, or failed before its extension could start (a
        # tree that stopped being valid after it was queued), never ran its extension: its
        # record would stay queued, and requeue_incomplete would run it again.
        if state in (ScanState.ABORTED, ScanState.FAILED):
            # A failed scan ran, so its handle is still in the queue; an aborted one may not be.
            message = self.get_handle(scan_id).error_message if state is ScanState.FAILED else None
            self.data_manager.call(
                f"recording scan {scan_id} as {state.value}",
                self._record_unstarted_end,
                record_id,
                state.value,
                message,
                scan_id=record_id,
            )

    def _record_progress(self) -> None:
        handles = self.handles
        finished = sum(1 for handle in handles if handle.state.finished)
        self.queue_manager.update_progress(self.db_queue_id, finished, len(handles))

    def _record_unstarted_end(self, record_id: int, status: str, message: str | None) -> None:
        if self.db.get_scan(record_id).status == "queued":
            self.db.record_scan_status(record_id, status, error_message=message)


def _stored_queue(db: DatabaseService, QID: str, lab_id: int | None) -> QueueRecord:
    """The stored queue ``QID`` in ``lab_id``, else of no lab; NotFoundError if neither."""
    try:
        return db.get_queue(QID, lab_id=lab_id)
    except NotFoundError:
        if lab_id is None:
            raise
        return db.get_queue(QID, lab_id=None)


def _refuse_if_live(record: QueueRecord, force: bool) -> None:
    """Raise :class:`QueueStateError` if a live process may be running the queue.

    On this computer the recorded process id tells (this very process included: a
    second queue object must not take over a queue that runs); a queue recorded as
    running on another computer is taken over only with ``force`` (it may have crashed).
    """
    if record.status not in LIVE_QUEUE_STATUSES or force:
        return
    if record.computer_name != socket.gethostname():
        raise QueueStateError(
            f"queue {record.queue_id!r} is {record.status} on {record.computer_name}; "
            f"pass force=True if that computer stopped without finishing it"
        )
    pid = (record.extra_data or {}).get("pid")
    if pid == os.getpid():
        raise QueueStateError(
            f"queue {record.queue_id!r} is {record.status} in this process; "
            f"add scans to it, or choose another name"
        )
    if not isinstance(pid, int):
        raise QueueStateError(
            f"queue {record.queue_id!r} is recorded {record.status} here by an unknown "
            f"process; pass force=True if nothing runs it any more"
        )
    if held_by_another_process(record):
        raise QueueStateError(f"queue {record.queue_id!r} is still run by process {pid} here")


def held_by_another_process(record: QueueRecord) -> bool:
    """Whether another process of this computer that is still alive made the queue's record."""
    pid = (record.extra_data or {}).get("pid")
    if record.computer_name != socket.gethostname() or not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def _mark_dead_run(managers: QueueManager, record: QueueRecord) -> None:
    """Mark the queue and its running scans interrupted if its last run never finished."""
    unfinished = [s for s in managers.get_incomplete_scans(record.id) if s.status != "queued"]
    if record.status in LIVE_QUEUE_STATUSES or any(s.status != "interrupted" for s in unfinished):
        managers.mark_interrupted(record.id, "interrupted: the process running the queue stopped")
