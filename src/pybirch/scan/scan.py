"""The Scan engine: connects instruments, runs the tree, delivers data, obeys control.

A scan's life (see :mod:`pybirch.scan.state` for the allowed transitions)::

    QUEUED -> RUNNING <-> PAUSED -> COMPLETED | ABORTED | FAILED

``run()`` does ``startup()``, ``execute()`` and ``shutdown()``. ``pause()``, ``resume()``
and ``abort()`` may be called from any thread; they take effect at the next point
boundary. A scan that fails (an instrument error, a critical extension error) ends
``FAILED`` with ``error`` and ``traceback`` kept; instruments are shut down and every row
taken before the failure still reaches the extensions.

An instrument that stops answering mid-scan pauses the scan, if it has a
:attr:`Scan.reconnector`, until the instrument is back, then the scan resumes at the point
it lost; the rule is in :mod:`pybirch.scan.instrument_loss`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback as traceback_module
from collections.abc import Callable, Iterable
from typing import Any

from pybirch.configuration import current_config
from pybirch.instruments.base import Instrument
from pybirch.scan.batch import MeasurementBuffer
from pybirch.scan.control import AbortRequested, ScanControl
from pybirch.scan.dispatcher import ExtensionDispatcher
from pybirch.scan.errors import ExtensionError, ScanStateError
from pybirch.scan.executor import TreeExecutor
from pybirch.scan.extension import ScanExtension
from pybirch.scan.instrument_loss import LossHandling, Reconnector
from pybirch.scan.settings import ScanSettings
from pybirch.scan.state import ScanState, check_transition

log = logging.getLogger(__name__)

#: Called as listener(scan, old_state, new_state) after every transition.
StateListener = Callable[["Scan", ScanState, ScanState], None]


def default_buffer_size() -> int:
    """Rows kept per measurement before a batch is written (``MAX_BUFFER_SIZE``, 1000)."""
    return current_config().max_buffer_size


def default_flush_interval() -> float:
    """Seconds between batches when points are slow (``FLUSH_INTERVAL_SECONDS``, 0.05)."""
    return current_config().flush_interval_seconds


class Scan:
    """One run of a scan tree, with its sample and extensions."""

    def __init__(
        self,
        settings: ScanSettings,
        sample: Any = None,
        extensions: Iterable[ScanExtension] | None = None,
        buffer_size: int | None = None,
        flush_interval: float | None = None,
    ) -> None:
        if buffer_size is None:
            buffer_size = default_buffer_size()
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.settings = settings
        #: The sample measured (a :class:`pybirch.queue.samples.Sample`), if any.
        self.sample = sample
        self.extensions: list[ScanExtension] = [*settings.extensions, *(extensions or [])]
        self.buffer_size = buffer_size
        self.flush_interval = default_flush_interval() if flush_interval is None else flush_interval
        #: The exception that failed the scan, if it failed.
        self.error: BaseException | None = None
        #: The formatted traceback of ``error``.
        self.traceback: str | None = None
        #: Every extension error, critical or not (see :mod:`pybirch.scan.extension`).
        self.extension_errors: list[ExtensionError] = []
        #: Errors raised while shutting instruments down, each logged when it happened.
        self.shutdown_errors: list[BaseException] = []
        #: serialize() of every instrument once connected and configured.
        self.instrument_snapshot: dict[str, dict[str, Any]] = {}
        self.started_at: float | None = None
        self.finished_at: float | None = None
        #: Brings back an instrument that stopped answering, so the scan pauses for it
        #: instead of failing (a station's health monitor; None: the scan fails).
        self.reconnector: Reconnector | None = None
        #: Why the scan waits while paused for a lost instrument (None otherwise).
        self.waiting_for: str | None = None
        self._state = ScanState.QUEUED
        self._changed = threading.Condition(threading.RLock())
        self._listeners: list[StateListener] = []
        self._control = ScanControl()
        self._owner: Callable[[str], None] | None = None
        self._buffers: dict[int, MeasurementBuffer] = {}
        self._connected: list[Instrument] = []
        self._dispatcher: ExtensionDispatcher | None = None
        self._executed = False
        self._shut_down = False
        self.total_points = settings.scan_tree.total_points()

    def __repr__(self) -> str:
        return f"<Scan {self.settings.scan_name!r} {self._state.value} {self.progress:.0%}>"

    # -- what the scan is ------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The scan's name."""
        return self.settings.scan_name

    @property
    def state(self) -> ScanState:
        """Where the scan is in its life."""
        return self._state

    @property
    def points_done(self) -> int:
        """Points taken so far, over all measurements."""
        return sum(buffer.points_taken for buffer in self._buffers.values())

    @property
    def progress(self) -> float:
        """Fraction of all points taken, 0 to 1."""
        if self._state is ScanState.COMPLETED:
            return 1.0
        return self.points_done / self.total_points if self.total_points else 0.0

    def instruments(self) -> list[Instrument]:
        """Every instrument the scan uses."""
        return self.settings.scan_tree.instruments()

    def resource_keys(self) -> set[str]:
        """The physical devices the scan drives; two scans sharing one must not overlap."""
        return {instrument.resource_key for instrument in self.instruments()}

    # -- control, from any thread ---------------------------------------------------------

    def pause(self) -> None:
        """Pause at the next point boundary, instruments connected and settings intact."""
        self._control_request("pause")

    def resume(self) -> None:
        """Continue with the next point after a pause."""
        self._control_request("resume")

    def abort(self) -> bool:
        """Stop at the next point boundary; return False if the scan had already finished."""
        if self._state.finished:
            return False
        self._control_request("abort")
        return True

    def set_owner(self, owner: Callable[[str], None] | None) -> None:
        """Route :meth:`pause`, :meth:`resume` and :meth:`abort` through ``owner(action)``.

        A queue owns the scans it holds: it remembers what each should be doing and brings
        it back there after every transition, so a request that bypassed it would be undone.
        """
        self._owner = owner

    def request(self, action: str) -> bool:
        """Serve ``action`` (pause, resume, abort) on the engine itself; used by the owner.

        Returns False only for an abort of a scan that had already finished.
        """
        if action == "abort":
            return self._request_abort()
        if action == "pause":
            self._request_pause()
        elif action == "resume":
            self._request_resume()
        else:
            raise ValueError(f"unknown scan control action {action!r}")
        return True

    def _request_pause(self) -> None:
        with self._changed:
            self._require_not_finished("pause")
            if self._state is ScanState.QUEUED:
                raise ScanStateError(f"scan {self.name!r} has not started; it cannot pause")
            self._control.request_pause()

    def _request_resume(self) -> None:
        with self._changed:
            self._require_not_finished("resume")
            self._control.request_resume()

    def _request_abort(self) -> bool:
        with self._changed:
            if self._state.finished:
                return False
            if self._state is not ScanState.QUEUED:
                self._control.request_abort()
                return True
            old = self._transition(ScanState.ABORTED)
        self._notify(old, ScanState.ABORTED)
        return True

    def _control_request(self, action: str) -> None:
        owner = self._owner
        if owner is None:
            self.request(action)
        else:
            owner(action)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(scan, old, new)`` after every state change."""
        self._listeners.append(listener)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the scan finished; return False on timeout."""
        return self.wait_for_state(
            ScanState.COMPLETED, ScanState.ABORTED, ScanState.FAILED, timeout=timeout
        )

    def wait_for_state(self, *states: ScanState, timeout: float | None = None) -> bool:
        """Block until the scan is in one of ``states``; return False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state in states, timeout)

    # -- life -------------------------------------------------------------------------------

    def run(self) -> ScanState:
        """Startup, execute and shutdown; return the final state (failures end in FAILED)."""
        try:
            self.startup()
            self.execute()
        except Exception as exc:
            if exc is not self.error:  # a misuse, not this scan's recorded failure
                raise
        finally:
            self.shutdown()
        return self._state

    def startup(self) -> None:
        """Validate the tree, start the extensions, connect and configure the instruments."""
        with self._changed:
            if self._state is not ScanState.QUEUED:
                raise ScanStateError(f"scan {self.name!r} is {self._state.value}; it cannot start")
            self._transition(ScanState.RUNNING)
        self._notify(ScanState.QUEUED, ScanState.RUNNING)
        self.started_at = time.time()
        try:
            # The extensions come first, so that a tree that fails validation is still
            # reported to them (a database record ends `failed`, not `queued`).
            self._dispatcher = ExtensionDispatcher(
                self.name, self.extensions, self._control.request_failure
            )
            self._call_extensions("set_scan_reference", self)
            tree = self.settings.scan_tree
            tree.validate()
            self._buffers = {
                id(plan.item): MeasurementBuffer(plan, self.buffer_size)
                for plan in tree.measurements()
            }
            self._connect_instruments()
            self._call_extensions("startup")
            self._attach_recorders()
        except BaseException as exc:
            self._fail(exc)
            raise

    def execute(self) -> None:
        """Take every point, then deliver the data and record how the scan ended."""
        with self._changed:
            if self._executed or not self._state.active:
                raise ScanStateError(
                    f"scan {self.name!r} is {self._state.value}; "
                    f"execute() runs once, after startup()"
                )
            self._executed = True
        try:
            self._call_extensions("execute")
            TreeExecutor(
                self.settings.scan_tree.items,
                self._buffers,
                self._control,
                self._flush,
                self._enter_pause,
                self._leave_pause,
                self.flush_interval,
                self._loss_handling(),
            ).run()
            outcome = (ScanState.COMPLETED, "on_complete")
        except AbortRequested:
            self._shutdown_instruments()
            outcome = (ScanState.ABORTED, "on_abort")
        except BaseException as exc:
            self._fail(exc)
            raise
        try:
            self._end(*outcome)
        except BaseException as exc:  # a critical extension failed while the scan ended
            self._fail(exc)
            raise

    def shutdown(self) -> None:
        """Shut the instruments down, then the extensions; safe to call more than once."""
        if self._shut_down:
            return
        self._shut_down = True
        self._shutdown_instruments()
        if self._dispatcher is not None:
            self._call_extensions("shutdown", critical=False)
            self._dispatcher.close()
            self.extension_errors = list(self._dispatcher.errors)
        self._close_recorders()

    # -- internals --------------------------------------------------------------------------

    def _connect_instruments(self) -> None:
        for instrument in self.instruments():
            instrument.connect_or_raise()
            self._connected.append(instrument)
            instrument.initialize()
        for item, _ in self.settings.scan_tree.walk():
            if item.settings:
                item.instrument.settings = item.settings
        self.instrument_snapshot = {i.name: i.serialize() for i in self.instruments()}

    def _loss_handling(self) -> LossHandling | None:
        if self.reconnector is None:
            return None
        return LossHandling(
            self.reconnector, self._note_loss, self._restore_instrument, lambda: self.points_done
        )

    def _note_loss(self, instrument: Instrument, error: BaseException | None) -> None:
        """Say which instrument the scan waits for, and why; or that it is back."""
        if error is None:
            log.info("scan %r: %s answers again; resuming", self.name, instrument.name)
            self.waiting_for = None
            return
        self.waiting_for = (
            f"{instrument.name} stopped answering ({type(error).__name__}: {error}); "
            "waiting for it to be reconnected"
        )
        log.warning("scan %r paused at point %d: %s", self.name, self.points_done, self.waiting_for)

    def _restore_instrument(self, instrument: Instrument) -> None:
        """Initialize a reconnected instrument again and give it this scan's settings."""
        instrument.initialize()
        for item, _ in self.settings.scan_tree.walk():
            if item.instrument is instrument and item.settings:
                instrument.settings = item.settings

    def _attach_recorders(self) -> None:
        """Give each measurement the point recorder the first willing extension offers."""
        assert self._dispatcher is not None
        for buffer in self._buffers.values():
            for extension in self._dispatcher.active:
                recorder = extension.point_recorder(buffer.columns)
                if recorder is not None:
                    buffer.recorder = recorder
                    break

    def _close_recorders(self) -> None:
        # After every batch was delivered: a recorder keeps only what was not stored.
        for buffer in self._buffers.values():
            if buffer.recorder is not None:
                buffer.recorder.close()
                buffer.recorder = None

    def _shutdown_instruments(self) -> None:
        while self._connected:
            instrument = self._connected.pop()
            try:
                instrument.shutdown()
            except Exception as exc:
                log.error(
                    "scan %r: shutting down %s failed", self.name, instrument.name, exc_info=exc
                )
                self.shutdown_errors.append(exc)

    def _flush(self, buffer: MeasurementBuffer | None) -> None:
        """Hand one buffer (or all, for None) to the extensions as batches."""
        assert self._dispatcher is not None
        for each in self._buffers.values() if buffer is None else (buffer,):
            batch = each.take()
            if batch is not None:
                self._dispatcher.submit(batch)

    def _enter_pause(self) -> None:
        # PAUSED is announced once every extension has the data and knows of the pause.
        self._flush(None)
        self._call_extensions("on_pause")
        self._enter(ScanState.PAUSED)

    def _leave_pause(self) -> None:
        self._call_extensions("on_resume")
        self._enter(ScanState.RUNNING)

    def _end(self, state: ScanState, hook: str) -> None:
        """Deliver the remaining rows, call ``hook`` and enter ``state``."""
        self._flush(None)
        self._call_extensions(hook)
        self._enter(state)

    def _fail(self, exc: BaseException) -> None:
        """Record ``exc``, make the instruments safe, deliver the data and enter FAILED."""
        if self._state.finished:
            return
        self.error = exc
        self.traceback = "".join(traceback_module.format_exception(exc))
        log.error("scan %r failed: %s", self.name, exc, exc_info=exc)
        self._shutdown_instruments()
        if self._dispatcher is not None:
            try:
                self._flush(None)
            except Exception as flush_error:
                log.error(
                    "scan %r: rows after the failure could not be delivered",
                    self.name,
                    exc_info=flush_error,
                )
            self._dispatcher.call("on_error", exc)
        self._enter(ScanState.FAILED)

    def _call_extensions(self, hook: str, *args: Any, critical: bool = True) -> None:
        """Run a hook on every extension; a critical extension's error fails the scan."""
        assert self._dispatcher is not None
        error = self._dispatcher.call(hook, *args)
        failure = self._control.failure or error
        if failure is not None and critical:
            raise failure

    def _require_not_finished(self, action: str) -> None:
        if self._state.finished:
            raise ScanStateError(f"scan {self.name!r} is {self._state.value}; it cannot {action}")

    def _enter(self, new: ScanState) -> None:
        """Enter ``new`` and tell the listeners, outside the lock."""
        with self._changed:
            old = self._transition(new)
        self._notify(old, new)

    def _transition(self, new: ScanState) -> ScanState:
        """Enter ``new``; the caller holds the lock and calls :meth:`_notify` after it."""
        old = self._state
        check_transition(old, new)
        self._state = new
        if new.finished:
            self.finished_at = time.time()
        self._changed.notify_all()
        return old

    def _notify(self, old: ScanState, new: ScanState) -> None:
        # Listeners run without the scan's lock, so they may call back into the scan.
        for listener in list(self._listeners):
            try:
                listener(self, old, new)
            except Exception:
                log.exception("scan %r: state listener %r failed", self.name, listener)
