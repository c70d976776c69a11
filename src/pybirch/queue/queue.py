"""Queue: runs scans one after another (SERIAL) or side by side (PARALLEL).

Scheduling rules
----------------
* Each scan runs ``scan.run()`` in its own thread. A scan is *active* from the moment its
  thread is started until that thread returns, **including while it is paused**: a paused
  scan keeps its instruments and its slot.
* SERIAL runs one active scan at a time, in queue order. Pausing and resuming the queue
  pauses and resumes that scan; the next scan never starts beside it.
* PARALLEL runs at most ``max_parallel_scans`` active scans, and never two scans whose
  ``scan.resource_keys()`` intersect (they share a physical instrument). Scans that share
  an instrument always start in queue order; a later scan whose instruments are all free
  may start ahead of an earlier one that waits for a busy instrument.
* One scheduler thread per started queue waits on a condition variable and is woken when
  a scan thread returns, a scan is queued, moved or removed, or the queue is controlled;
  it starts what the rules allow, and reports progress at most every
  ``progress_interval`` seconds.

Queue states
------------
``IDLE`` (not started, or nothing left) -> ``start()`` -> ``RUNNING`` -> when no scan is
queued or active -> ``IDLE``. ``pause()``: ``RUNNING -> PAUSED`` (active scans pause at
their next point, nothing new starts); ``resume()``: ``PAUSED -> RUNNING`` (every paused
active scan resumes). ``abort()``: ``RUNNING/PAUSED -> STOPPING``: active scans are
aborted at their next point and every queued scan is marked ABORTED at once, so the queue
ends; once the active scans have returned the queue is ``IDLE``. A scan that fails does
not stop the queue: it is logged at ERROR and the next scan starts. Scans queued while the
queue is IDLE wait for ``start()``. ``resource_keys()`` is read when a scan is queued.

Callbacks
---------
A callback that raises is logged with its traceback and never disturbs the queue. Scan
state callbacks run in the scan's thread while the scan holds its own lock (or in the
thread that aborted a scan that never started); queue state callbacks run in the thread
that changed the state, in order; progress callbacks run in the scheduler thread; log
callbacks run wherever the entry was made. Keep them short, and never wait in them for
another scan.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pybirch.queue.callbacks import CallbackList
from pybirch.queue.errors import QueueError, QueueStateError, ScanNotFoundError
from pybirch.queue.handle import ScanHandle
from pybirch.queue.log import (
    LOGGER_NAME,
    LogBook,
    LogEntry,
    level_number,
    normalize_level,
    now,
)
from pybirch.queue.progress import ProgressReporter
from pybirch.queue.samples import Sample
from pybirch.queue.state import ExecutionMode, QueueState
from pybirch.scan import Scan
from pybirch.scan.errors import ScanStateError
from pybirch.scan.instrument_loss import Reconnector
from pybirch.scan.state import ScanState

LogCallback = Callable[[LogEntry], Any]
StateCallback = Callable[[str, ScanState], Any]
QueueStateCallback = Callable[[QueueState], Any]
ProgressCallback = Callable[[str, float], Any]

logger = logging.getLogger(LOGGER_NAME)


class Queue:
    """An ordered list of scans and the scheduler that runs them (see the module docstring)."""

    def __init__(
        self,
        QID: str,  # the name PyBirch users know
        max_parallel_scans: int = 1,
        mode: ExecutionMode | str = ExecutionMode.SERIAL,
        *,
        progress_interval: float = 0.2,
        max_log_entries: int = 10_000,
    ) -> None:
        if not isinstance(QID, str) or not QID.strip():
            raise QueueError(f"queue id must be a non-empty string, not {QID!r}")
        if progress_interval <= 0:
            raise QueueError(f"progress_interval must be positive, not {progress_interval}")
        if max_log_entries < 1:
            raise QueueError(f"max_log_entries must be at least 1, not {max_log_entries}")
        self.QID = QID
        self._mode = _check_mode(mode)
        self._max_parallel = _check_max_parallel(max_parallel_scans)
        self.progress_interval = float(progress_interval)
        # _cond guards every field below and the handles' bookkeeping. _transition_lock
        # serializes queue state changes with their callbacks, so observers see them in order;
        # it is always taken before _cond. A scan calls our listener holding its own lock, so
        # scan methods are never called holding either of ours, and callbacks never in _cond.
        self._cond = threading.Condition(threading.RLock())
        self._transition_lock = threading.RLock()
        self._state = QueueState.IDLE
        self._handles: list[ScanHandle] = []
        self._by_id: dict[str, ScanHandle] = {}
        self._scheduler: threading.Thread | None = None
        self._listening: weakref.WeakSet[Scan] = weakref.WeakSet()
        self._wakeups = 0
        self._logbook = LogBook(max_log_entries)
        self._log_callbacks = CallbackList("log")
        self._state_callbacks = CallbackList("scan state")
        self._queue_state_callbacks = CallbackList("queue state")
        self._progress_callbacks = CallbackList("progress")
        #: Given to every scan, so one whose instrument stops answering pauses for it.
        self._reconnector: Reconnector | None = None

    def __repr__(self) -> str:
        return (
            f"<Queue {self.QID!r} {self._state.value} {self._mode.value} "
            f"scans={len(self._handles)}>"
        )

    def __len__(self) -> int:
        return len(self._handles)

    # ----------------------------------------------------------------- properties

    @property
    def queue_id(self) -> str:
        """The queue's id (``QID``)."""
        return self.QID

    @property
    def state(self) -> QueueState:
        """What the queue is doing."""
        return self._state

    @property
    def mode(self) -> ExecutionMode:
        """SERIAL or PARALLEL; may be changed at any time, applies to the next scan started."""
        return self._mode

    @mode.setter
    def mode(self, value: ExecutionMode | str) -> None:
        with self._cond:
            self._mode = _check_mode(value)
            self._wake_locked()

    @property
    def max_parallel_scans(self) -> int:
        """How many scans PARALLEL mode runs at once (SERIAL always runs one)."""
        return self._max_parallel

    @max_parallel_scans.setter
    def max_parallel_scans(self, value: int) -> None:
        with self._cond:
            self._max_parallel = _check_max_parallel(value)
            self._wake_locked()

    @property
    def handles(self) -> list[ScanHandle]:
        """Every scan in queue order: finished ones (history), active ones and queued ones."""
        with self._cond:
            return list(self._handles)

    def get_handle(self, scan_id: str) -> ScanHandle:
        """The handle of ``scan_id``; raises :class:`ScanNotFoundError`."""
        with self._cond:
            return self._get_locked(scan_id)

    # ------------------------------------------------------------- editing the list

    def enqueue(self, scan: Scan) -> ScanHandle:
        """Add a scan that has not run yet at the end of the queue and return its handle.

        The scan's tree and sample are validated now (:class:`~pybirch.scan.ScanDefinitionError`,
        :class:`~pybirch.queue.errors.SampleError`).
        A RUNNING queue starts it as soon as the rules allow; otherwise it waits.
        """
        handle = self._add(scan, ScanHandle(scan))
        self._log("INFO", f"queued scan {_label(handle)} at position {len(self) - 1}", handle)
        return handle

    def dequeue(self, scan_id: str) -> ScanHandle:
        """Remove a queued or finished scan and return its handle; active scans cannot be."""
        with self._cond:
            handle = self._get_locked(scan_id)
            self._check_not_active_locked(handle, "dequeue")
            self._remove_locked(handle)
        self._log("INFO", f"removed scan {_label(handle)} from the queue", handle)
        return handle

    def move(self, scan_id: str, new_index: int) -> None:
        """Move a queued or finished scan to ``new_index`` (0-based, in :attr:`handles`)."""
        with self._cond:
            handle = self._get_locked(scan_id)
            self._check_not_active_locked(handle, "move")
            if not 0 <= new_index < len(self._handles):
                raise QueueError(
                    f"cannot move scan to index {new_index}: the queue holds "
                    f"{len(self._handles)} scans (indices 0 to {len(self._handles) - 1})"
                )
            self._handles.remove(handle)
            self._handles.insert(new_index, handle)
            self._wake_locked()
        self._log("INFO", f"moved scan {_label(handle)} to position {new_index}", handle)

    def replace(self, scan_id: str, new_scan: Scan) -> ScanHandle:
        """Put ``new_scan`` in place of a queued scan, keeping its id and position.

        Only a scan still waiting in the queue can be replaced: an active scan is running
        and a finished one is history (:class:`QueueStateError`).
        """
        resources = self._check_new_scan(new_scan)
        self._listen_to(new_scan)
        with self._cond:
            handle = self._get_locked(scan_id)
            if not handle.pending or handle._want_abort:
                raise QueueStateError(
                    f"cannot replace scan {_label(handle)}: it is {handle.state.value}; "
                    "only a queued scan can be replaced"
                )
            old_name = _label(handle)
            handle.scan = new_scan
            handle._resources = resources
            self._wake_locked()
        self._log("INFO", f"replaced scan {old_name} by {new_scan.settings.scan_name!r}", handle)
        return handle

    def clear(self) -> list[ScanHandle]:
        """Remove every queued and finished scan; active scans stay. Returns what was removed.

        Never raises: clearing a running queue leaves its active scans running and the queue
        ends after them.
        """
        with self._cond:
            removed = [h for h in self._handles if not h.active]
            for handle in removed:
                self._remove_locked(handle)
        self._log("INFO", f"cleared {len(removed)} scans from the queue")
        return removed

    # ------------------------------------------------------------- queue control

    def start(self) -> None:
        """Start running queued scans; does nothing if the queue is already running.

        Raises :class:`QueueStateError` when PAUSED (use :meth:`resume`) or STOPPING.
        """
        with self._transition_lock:
            with self._cond:
                if self._state is QueueState.RUNNING:
                    return
                if self._state is not QueueState.IDLE:
                    raise QueueStateError(f"cannot start the queue while it is {self._state.value}")
                nothing_to_run = not any(h.pending for h in self._handles)
                if not nothing_to_run:
                    self._state = QueueState.RUNNING
                    self._start_scheduler_locked()
            if nothing_to_run:
                self._log("INFO", "start: no queued scan to run")
                return
            self._announce(QueueState.RUNNING, "queue started")

    def pause(self) -> None:
        """Pause every active scan at its next point and start no new scan until resume.

        Does nothing if already paused; raises :class:`QueueStateError` if IDLE or STOPPING.
        """
        with self._transition_lock:
            with self._cond:
                if self._state is QueueState.PAUSED:
                    return
                if self._state is not QueueState.RUNNING:
                    raise QueueStateError(f"cannot pause the queue while it is {self._state.value}")
                self._state = QueueState.PAUSED
                targets = self._active_locked()
                for handle in targets:
                    handle._want_paused = True
                self._wake_locked()
            self._announce(QueueState.PAUSED, "queue paused")
        self._reconcile_all(targets)

    def resume(self) -> None:
        """Resume every paused active scan and let new scans start again.

        Does nothing if already running; raises :class:`QueueStateError` if IDLE or STOPPING.
        """
        with self._transition_lock:
            with self._cond:
                if self._state is QueueState.RUNNING:
                    return
                if self._state is not QueueState.PAUSED:
                    raise QueueStateError(
                        f"cannot resume the queue while it is {self._state.value}"
                    )
                self._state = QueueState.RUNNING
                targets = self._active_locked()
                for handle in targets:
                    handle._want_paused = False
                self._wake_locked()
            self._announce(QueueState.RUNNING, "queue resumed")
        self._reconcile_all(targets)

    def abort(self) -> None:
        """Abort active scans at their next point and mark every queued scan ABORTED.

        The queue is STOPPING until the active scans have returned, then IDLE. Does
        nothing if the queue is IDLE (nothing runs) or already STOPPING.
        """
        with self._transition_lock:
            with self._cond:
                if self._state in (QueueState.IDLE, QueueState.STOPPING):
                    return
                self._state = QueueState.STOPPING
                active = self._active_locked()
                queued = [h for h in self._handles if h.pending]
                for handle in active + queued:
                    handle._want_abort = True
                self._wake_locked()
            self._announce(QueueState.STOPPING, "queue aborting")
        for handle in queued:
            self._abort_unlaunched(handle)
        self._reconcile_all(active)

    def wait_for_completion(self, timeout: float | None = None) -> bool:
        """Block until no scan is queued or active and the queue has settled.

        Returns False if ``timeout`` seconds passed first. Scans queued in a queue that is
        never started keep it from completing.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._complete_locked():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # --------------------------------------------------------------- scan control

    def pause_scan(self, scan_id: str) -> None:
        """Pause one active scan at its next point; it keeps its instruments and slot."""
        handle = self._active_handle(scan_id, "pause")
        with self._cond:
            handle._want_paused = True
        self._reconcile(handle)
        self._log("INFO", f"pause requested for scan {_label(handle)}", handle)

    def resume_scan(self, scan_id: str) -> None:
        """Resume one paused active scan (even while the queue itself is paused)."""
        handle = self._active_handle(scan_id, "resume")
        with self._cond:
            handle._want_paused = False
        self._reconcile(handle)
        self._log("INFO", f"resume requested for scan {_label(handle)}", handle)

    def abort_scan(self, scan_id: str) -> None:
        """Abort one scan: an active one at its next point, a queued one at once."""
        with self._cond:
            handle = self._get_locked(scan_id)
            if handle._done:
                raise QueueStateError(
                    f"cannot abort scan {_label(handle)}: it already ended {handle.state.value}"
                )
            handle._want_abort = True
            launched = handle._launched
        self._log("INFO", f"abort requested for scan {_label(handle)}", handle)
        if launched:
            self._reconcile(handle)
        else:
            self._abort_unlaunched(handle)

    # ------------------------------------------------------------------ callbacks

    def set_reconnector(self, reconnector: Reconnector | None) -> None:
        """Give every scan of the queue, now and later, ``reconnector`` (``Scan.reconnector``)."""
        with self._cond:
            self._reconnector = reconnector
            scans = [handle.scan for handle in self._handles]
        for scan in scans:
            scan.reconnector = reconnector

    def add_log_callback(self, callback: LogCallback) -> None:
        """Call ``callback(entry: LogEntry)`` for every log entry."""
        self._log_callbacks.add(callback)

    def add_state_callback(self, callback: StateCallback) -> None:
        """Call ``callback(scan_id, new_state: ScanState)`` on every scan state change."""
        self._state_callbacks.add(callback)

    def add_queue_state_callback(self, callback: QueueStateCallback) -> None:
        """Call ``callback(new_state: QueueState)`` on every queue state change."""
        self._queue_state_callbacks.add(callback)

    def add_progress_callback(self, callback: ProgressCallback) -> None:
        """Call ``callback(scan_id, progress)`` when an active scan's progress changed.

        Reported by the scheduler at most every ``progress_interval`` seconds per scan,
        plus once with the final value when a scan ends.
        """
        self._progress_callbacks.add(callback)

    def remove_callback(self, callback: Callable[..., Any]) -> bool:
        """Unregister ``callback`` from every kind; return whether it was registered."""
        lists = (
            self._log_callbacks,
            self._state_callbacks,
            self._queue_state_callbacks,
            self._progress_callbacks,
        )
        return any([callbacks.remove(callback) for callbacks in lists])

    # ------------------------------------------------------------- logs and status

    def get_logs(
        self,
        level: str | int | None = None,
        scan_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """Log entries, oldest first, filtered.

        ``level``: at least this severity ("INFO", "warning", logging.ERROR...);
        ``scan_id``: only entries about that scan; ``since``: strictly after this time
        (a naive time is local time); ``limit``: only the most recent ``limit`` entries.
        """
        return self._logbook.select(level=level, scan_id=scan_id, since=since, limit=limit)

    def log(self, level: str | int, message: str, scan_id: str | None = None) -> LogEntry:
        """Add a message to the queue's log (for extensions and applications)."""
        return self._log(normalize_level(level), message, scan_id=scan_id)

    def get_status(self) -> dict[str, Any]:
        """A JSON-able snapshot: id, state, mode, counts per scan state, active scans, scans."""
        with self._cond:
            handles = list(self._handles)
            state, mode, max_parallel = self._state, self._mode, self._max_parallel
        summaries = [{"position": i, **h.summary()} for i, h in enumerate(handles)]
        counts = {s.value: 0 for s in ScanState}
        for summary in summaries:
            counts[summary["state"]] += 1
        return {
            "queue_id": self.QID,
            "state": state.value,
            "mode": mode.value,
            "max_parallel_scans": max_parallel,
            "total_scans": len(summaries),
            "counts": counts,
            "current_scans": [s["scan_id"] for s in summaries if s["active"]],
            "scans": summaries,
        }

    # --------------------------------------------------------------- serialization

    def serialize(self) -> dict[str, Any]:
        """A JSON-able description of the queue, its scans (with samples) and its log."""
        from pybirch.queue.serialization import queue_to_dict

        return queue_to_dict(self)

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`serialize` as a JSON document (``kwargs`` go to :func:`json.dumps`)."""
        from pybirch.queue.serialization import queue_to_json

        return queue_to_json(self, **kwargs)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Queue:
        """Rebuild an IDLE queue from :meth:`serialize` output (see :mod:`.serialization`)."""
        from pybirch.queue.serialization import queue_from_dict

        return queue_from_dict(data, cls)

    @classmethod
    def from_json(cls, text: str) -> Queue:
        """Rebuild a queue from :meth:`to_json` output."""
        from pybirch.queue.serialization import queue_from_json

        return queue_from_json(text, cls)

    # ================================================================= internals

    def _add(self, scan: Scan, handle: ScanHandle) -> ScanHandle:
        """Register the scan's listener and append ``handle`` as a queued scan."""
        resources = self._check_new_scan(scan)
        handle._resources = resources
        if self._reconnector is not None:
            scan.reconnector = self._reconnector
        self._prepare_scan(scan, handle)
        self._listen_to(scan)
        with self._cond:
            if handle.scan_id in self._by_id:
                raise QueueError(f"a scan with id {handle.scan_id!r} is already in the queue")
            if any(h.scan is scan for h in self._handles):
                raise QueueError(f"scan {scan.settings.scan_name!r} is already in the queue")
            self._handles.append(handle)
            self._by_id[handle.scan_id] = handle
            self._wake_locked()
        scan.set_owner(lambda action: getattr(self, f"{action}_scan")(handle.scan_id))
        return handle

    def _prepare_scan(self, scan: Scan, handle: ScanHandle) -> None:
        """Called once a new scan passed the checks, before it is queued (for subclasses)."""

    def _add_history(self, handle: ScanHandle) -> None:
        """Append a handle that already ended (rebuilt from a saved queue)."""
        with self._cond:
            if handle.scan_id in self._by_id:
                raise QueueError(f"a scan with id {handle.scan_id!r} is already in the queue")
            handle._done = True
            self._handles.append(handle)
            self._by_id[handle.scan_id] = handle

    def _check_new_scan(self, scan: Scan) -> frozenset[str]:
        """Raise unless ``scan`` can be queued; return its resource keys."""
        if scan.state is not ScanState.QUEUED:
            raise QueueStateError(
                f"only a scan that has not run can be queued; "
                f"{scan.settings.scan_name!r} is {scan.state.value}"
            )
        with self._cond:
            if any(h.scan is scan for h in self._handles):
                raise QueueError(f"scan {scan.settings.scan_name!r} is already in the queue")
        # A scan that cannot run is refused now, before anything records it, rather than
        # failing in its thread later (ScanDefinitionError says which item and value).
        scan.settings.scan_tree.validate()
        sample = getattr(scan, "sample", None)
        if isinstance(sample, Sample):
            sample.validate()
        # Read once here so scheduling never calls into a scan while holding the queue lock.
        return frozenset(scan.resource_keys())

    def _get_locked(self, scan_id: str) -> ScanHandle:
        try:
            return self._by_id[scan_id]
        except KeyError:
            raise ScanNotFoundError(scan_id) from None

    def _check_not_active_locked(self, handle: ScanHandle, action: str) -> None:
        if handle.active:
            raise QueueStateError(
                f"cannot {action} scan {_label(handle)}: it is active "
                f"({handle.state.value}); abort it first"
            )

    def _remove_locked(self, handle: ScanHandle) -> None:
        handle.scan.set_owner(None)
        self._handles.remove(handle)
        del self._by_id[handle.scan_id]
        self._wake_locked()

    def _active_handle(self, scan_id: str, action: str) -> ScanHandle:
        with self._cond:
            handle = self._get_locked(scan_id)
            if not handle.active:
                raise QueueStateError(
                    f"cannot {action} scan {_label(handle)}: it is not running "
                    f"({handle.state.value})"
                )
            return handle

    def _active_locked(self) -> list[ScanHandle]:
        return [h for h in self._handles if h.active]

    def _wake_locked(self) -> None:
        """Tell the scheduler and waiters that something changed."""
        self._wakeups += 1
        self._cond.notify_all()

    def _complete_locked(self) -> bool:
        if any(h.pending or h.active for h in self._handles):
            return False
        # RUNNING/STOPPING with nothing left become IDLE in a moment: wait for that.
        return self._scheduler is None or self._state is QueueState.PAUSED

    # ------------------------------------------------------------------ scheduling

    def _start_scheduler_locked(self) -> None:
        thread = threading.Thread(
            target=self._scheduler_main, name=f"pybirch-queue-{self.QID}", daemon=True
        )
        self._scheduler = thread
        thread.start()

    def _scheduler_main(self) -> None:
        """Start scans as the rules allow and report progress until the queue is IDLE."""
        reporter = ProgressReporter(self._progress_callbacks, self.progress_interval)
        try:
            while True:
                with self._cond:
                    seen = self._wakeups
                    for handle in self._startable_locked():
                        self._launch_locked(handle)
                    active = self._active_locked()
                reporter.report(active)
                if self._settle_if_done():
                    return
                with self._cond:
                    if self._wakeups == seen:
                        self._cond.wait(reporter.timeout())
        except Exception:
            # A bug here would leave scans unattended: make it loud in every log.
            self._log("CRITICAL", "queue scheduler crashed; scans are no longer started")
            logger.exception("queue %s: scheduler crashed", self.QID)
            raise

    def _startable_locked(self) -> list[ScanHandle]:
        """The queued scans the rules allow to start now, in queue order."""
        if self._state is not QueueState.RUNNING:
            return []
        active = self._active_locked()
        limit = 1 if self._mode is ExecutionMode.SERIAL else self._max_parallel
        free_slots = limit - len(active)
        queued = [h for h in self._handles if h.pending and not h._want_abort]
        if free_slots <= 0 or not queued:
            return []
        if self._mode is ExecutionMode.SERIAL:
            return queued[:1]
        busy: set[str] = set().union(*(h._resources for h in active))
        chosen: list[ScanHandle] = []
        for handle in queued:
            if len(chosen) == free_slots:
                break
            if not handle._resources & busy:
                chosen.append(handle)
            # A waiting scan reserves its instruments too, so scans that share an
            # instrument start in queue order and a waiting scan is never starved.
            busy |= handle._resources
        return chosen

    def _launch_locked(self, handle: ScanHandle) -> None:
        handle._launched = True
        handle.started_at = now()
        thread = threading.Thread(
            target=self._run_scan,
            args=(handle,),
            name=f"pybirch-scan-{handle.scan_id[:8]}",
            daemon=True,
        )
        handle._thread = thread
        thread.start()

    def _settle_if_done(self) -> bool:
        """Become IDLE when nothing is left to run (or to stop); True if the queue did."""
        with self._cond:
            if not self._nothing_left_locked():
                return False  # the common case, decided without the transition lock
        with self._transition_lock:
            with self._cond:
                if not self._nothing_left_locked():
                    return False
                self._state = QueueState.IDLE
            self._announce(QueueState.IDLE, f"queue idle: {self._outcome_counts()}")
            with self._cond:
                # A callback may have started the queue again, with a new scheduler.
                if self._scheduler is threading.current_thread():
                    self._scheduler = None
                self._wake_locked()
            return True

    def _nothing_left_locked(self) -> bool:
        if self._state is QueueState.STOPPING:
            # Queued scans being aborted end first, so IDLE is announced after them.
            return not any(h.active or (h.pending and h._want_abort) for h in self._handles)
        if self._state is QueueState.RUNNING:
            return not any(h.active or h.pending for h in self._handles)
        return False

    def _outcome_counts(self) -> str:
        counts: dict[str, int] = {}
        for handle in self.handles:
            counts[handle.state.value] = counts.get(handle.state.value, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no scans"

    # --------------------------------------------------------------- scan threads

    def _run_scan(self, handle: ScanHandle) -> None:
        """Body of a scan's thread: run it, log how it ended, free its slot."""
        scan = handle.scan
        crash: Exception | None = None
        with self._cond:
            abort_first = handle._want_abort
        try:
            if abort_first:
                scan.request("abort")  # aborted between being picked and its thread starting
            else:
                scan.run()
        except Exception as exc:
            # run() reports scan failures through its state; it raises only when misused
            # (e.g. the scan was run or aborted behind the queue's back). Survive and record.
            crash = exc
            logger.exception("queue %s: scan %s raised from run()", self.QID, _label(handle))
        try:
            self._record_outcome(handle, crash)
        finally:
            # Whatever happens, the slot is freed, or the queue would wait forever.
            with self._cond:
                handle._done = True
                handle.finished_at = now()
                self._wake_locked()

    def _record_outcome(self, handle: ScanHandle, crash: Exception | None) -> None:
        """Log how a launched scan ended; record FAILED if run() broke its contract."""
        scan = handle.scan
        if not scan.state.finished:
            # run() raised or returned early: the scan cannot go on, so it counts as failed.
            if crash is not None:
                handle._error = crash
                message = f"{type(crash).__name__}: {crash}"
            else:
                message = f"run() returned with the scan {scan.state.value}"
            handle._record(ScanState.FAILED, float(scan.progress), message)
        state = handle.state
        if state is ScanState.COMPLETED:
            self._log("INFO", f"scan {_label(handle)} completed", handle)
        elif state is ScanState.ABORTED:
            self._log("WARNING", f"scan {_label(handle)} aborted at {handle.progress:.0%}", handle)
        else:
            self._log(
                "ERROR",
                f"scan {_label(handle)} failed: {handle.error_message}",
                handle,
                detail=handle.traceback,
            )

    def _abort_unlaunched(self, handle: ScanHandle) -> None:
        """Abort a scan that never started; it becomes ABORTED at once."""
        scan = handle.scan
        if not scan.state.finished:
            try:
                scan.request("abort")
            except ScanStateError as exc:
                logger.debug("queue %s: abort of %s: %s", self.QID, _label(handle), exc)
        with self._cond:
            if handle._launched:
                return  # the scheduler started it meanwhile; its thread aborts it
            if not scan.state.finished:
                handle._record(ScanState.ABORTED, float(scan.progress), None)
            if not handle._done:
                handle._done = True
                handle.finished_at = now()
                self._wake_locked()

    def _listen_to(self, scan: Scan) -> None:
        """Register the queue's state listener on ``scan``, once per scan and queue."""
        with self._cond:
            if scan in self._listening:
                return  # dequeued and queued again: its listener is already there
            self._listening.add(scan)
        scan.add_state_listener(self._on_scan_state)

    def _on_scan_state(self, scan: Scan, old: ScanState, new: ScanState) -> None:
        """Called after each transition (holding the scan's lock): record, notify, reconcile.

        It runs in the scan's thread, or in the thread that aborted a scan not started.
        """
        with self._cond:
            handle = next((h for h in self._handles if h.scan is scan), None)
            if handle is None:
                return  # removed or replaced: no longer ours
            unlaunched_end = new.finished and not handle._launched and not handle._done
            if unlaunched_end:
                handle._done = True
                handle.finished_at = now()
                self._wake_locked()
        self._state_callbacks.fire(handle.scan_id, new)
        if new is ScanState.RUNNING:
            verb = "resumed" if old is ScanState.PAUSED else "started"
            self._log("INFO", f"scan {_label(handle)} {verb}", handle)
        elif new is ScanState.PAUSED and scan.waiting_for:
            message = f"scan {_label(handle)} paused at {handle.progress:.0%}: {scan.waiting_for}"
            self._log("WARNING", message, handle)
        elif new is ScanState.PAUSED:
            self._log("INFO", f"scan {_label(handle)} paused at {handle.progress:.0%}", handle)
        elif unlaunched_end:
            self._log("WARNING", f"scan {_label(handle)} {new.value} before it started", handle)
        if new.active:
            self._reconcile(handle)

    def _reconcile_all(self, handles: list[ScanHandle]) -> None:
        # Outside the queue's locks: a scan calls its listeners holding its own lock, and a
        # listener's callback may call back into the queue.
        for handle in handles:
            self._reconcile(handle)

    def _reconcile(self, handle: ScanHandle) -> None:
        """Bring an active scan to the state the queue wants (abort > pause > run).

        Called after every control request and every transition, so a request that raced
        with a transition (pause while starting, resume before a pause took effect) is
        applied once the scan can take it.
        """
        with self._cond:
            want_abort, want_paused = handle._want_abort, handle._want_paused
        scan = handle.scan
        state = scan.state
        if state is ScanState.QUEUED or state.finished:
            return  # not started yet (reconciled when it is) or already over
        try:
            if want_abort:
                scan.request("abort")
            elif want_paused and state is ScanState.RUNNING:
                scan.request("pause")
            elif not want_paused and state is ScanState.PAUSED:
                scan.request("resume")
        except ScanStateError as exc:
            # The scan moved on meanwhile; its next transition reconciles again.
            logger.debug("queue %s: control of %s: %s", self.QID, _label(handle), exc)

    # ----------------------------------------------------------------- logging

    def _log(
        self,
        level: str,
        message: str,
        handle: ScanHandle | None = None,
        *,
        scan_id: str | None = None,
        detail: str | None = None,
    ) -> LogEntry:
        """Record an entry, mirror it to :mod:`logging` and call the log callbacks."""
        scan_id = handle.scan_id if handle is not None else scan_id
        entry = LogEntry(now(), level, message, scan_id=scan_id, queue_id=self.QID)
        self._logbook.append(entry)
        text = f"[{self.QID}] {message}" + (f"\n{detail.rstrip()}" if detail else "")
        logger.log(
            level_number(level), "%s", text, extra={"queue_id": self.QID, "scan_id": scan_id}
        )
        self._log_callbacks.fire(entry)
        return entry

    def _restore_logs(self, entries: Iterable[LogEntry]) -> None:
        self._logbook.extend(entries)

    def _announce(self, state: QueueState, message: str) -> None:
        """Log a queue state change and call the queue state callbacks (in order)."""
        self._log("INFO", message)
        self._queue_state_callbacks.fire(state)


def _check_mode(mode: ExecutionMode | str) -> ExecutionMode:
    try:
        return ExecutionMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in ExecutionMode)
        raise QueueError(f"unknown execution mode {mode!r}; use one of {choices}") from None


def _check_max_parallel(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise QueueError(f"max_parallel_scans must be an integer of at least 1, not {value!r}")
    return value


def _label(handle: ScanHandle) -> str:
    return f"{handle.name!r} ({handle.scan_id[:8]})"
