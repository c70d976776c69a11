"""A station: one computer's instruments and the queues that run scans on them.

``pybirch serve`` holds a station for its own computer and ``pybirch agent`` one behind
its link to the server; both build scans from the browser's designs, run them in
:class:`~pybirch.database_integration.DatabaseQueue` s (every point stored, spooled while
the database is away), obey start, pause, resume and abort, and take back after a restart
the queues an earlier run of the same computer left. Every queue a station runs is
followed live on its :class:`~pybirch.realtime.EventBus`, and so is the health of its
instruments (:mod:`pybirch.station.health`): a scan whose instrument drops pauses until the
monitor reconnects it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.services.paging import MAX_PER_PAGE
from pybirch.database.services.queues import QueueRunningError
from pybirch.database_integration import DatabaseQueue, EquipmentManager, to_pybirch_sample
from pybirch.database_integration.extensions.database_queue import held_by_another_process
from pybirch.definitions import get_computer_info
from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument, Measurement, Movement
from pybirch.instruments.catalogue import InstrumentInfo, InstrumentSet
from pybirch.instruments.driver_catalogue import load_installed_drivers
from pybirch.instruments.driver_files import load_driver_files
from pybirch.instruments.driver_origin import driver_origin
from pybirch.instruments.errors import SettingsError
from pybirch.instruments.registry import resolve_instrument_class
from pybirch.instruments.simulated import SimulatedSample
from pybirch.instruments.visa_discovery import scan_visa_resources
from pybirch.queue import QueueState, QueueStateError
from pybirch.queue.samples import Sample
from pybirch.realtime import EventBus, follow_queue
from pybirch.realtime.events import Event, InstrumentStatus, QueueStatus, ScanStatus
from pybirch.scan import Scan, ScanState
from pybirch.scan.design import DesignError, build_settings
from pybirch.station.actions import Action
from pybirch.station.bound_instruments import (
    STORED_CODE_ELSEWHERE,
    BindingLoadError,
    LoadedInstruments,
    instrument_from_binding,
    load_bound_instruments,
)
from pybirch.station.health import InstrumentHealth
from pybirch.station.manual_control import (
    MANUAL_TIMEOUT,
    InstrumentActionError,
    ManualTarget,
    Moved,
    Reading,
    SettingsApplied,
    within,
)
from pybirch.station.requests import (
    Enqueued,
    EnqueueRequest,
    FoundInstruments,
    LoadSummary,
    QueueChoice,
    QueueSummary,
)

log = logging.getLogger(__name__)

#: Queue records a restarted station takes back: not finished by a user or by completion.
ADOPTED_STATUSES = ("idle", "running", "paused", "stopping", "interrupted")
#: Queue records read at a time while looking for them.
RECORDS_PER_PAGE = MAX_PER_PAGE


class StationError(PyBirchError):
    """A request the station cannot carry out; the message says why."""


@dataclass(frozen=True)
class StationIdentity:
    """Which computer a station is: its record id, its name, and its lab (None: any lab)."""

    computer_id: int
    name: str
    lab_id: int | None = None


class Station:
    """Runs one computer's queues on its instruments."""

    def __init__(
        self,
        db: DatabaseService,
        instruments: InstrumentSet | None = None,
        *,
        bus: EventBus | None = None,
        identity: StationIdentity | None = None,
        runs_stored_code: bool = True,
    ) -> None:
        self.db = db
        #: Whether drivers stored in the database run here: not in the web server's station.
        self.runs_stored_code = runs_stored_code
        self.instruments = instruments or InstrumentSet()
        self.bus = bus or EventBus()
        #: The computer this station is (None until known: an agent learns it on registering).
        self.identity = identity
        self._queues: dict[int, DatabaseQueue] = {}
        #: Bindings whose instrument this station loaded: binding id -> instrument name.
        self._bindings: dict[int, str] = {}
        #: The adapter and settings last written back, by binding id.
        self._written: dict[int, tuple[str, dict[str, Any]]] = {}
        #: What this computer's simulated instruments all measure, so they see each other.
        self._device = SimulatedSample()
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        #: Held while instruments are swapped for newer driver versions, and while a scan
        #: takes its instruments, so no scan is built on an instrument being replaced.
        self._instruments_lock = threading.RLock()
        #: Bindings whose newer driver waits for a scan holding the instrument to end.
        self._deferred: set[int] = set()
        #: Instrument records by instrument name: (record id, lab id), for status changes.
        self._records: dict[str, tuple[int, int | None]] = {}
        #: Checks the instruments and reconnects lost ones (started once there are some).
        self.health = InstrumentHealth(
            lambda: self.instruments.all(), self._instruments_in_use, self._note_health
        )

    @property
    def name(self) -> str:
        """The computer's name, for messages."""
        return self.identity.name if self.identity else "this computer"

    # -- what the web asks -------------------------------------------------------------

    def enqueue(self, request: EnqueueRequest) -> Enqueued:
        """Build the design's scan, add it to the chosen queue, and start the queue if asked."""
        self._check_lab(request.lab_id)
        with self._instruments_lock:
            self.refresh_drivers()  # a version approved since the last scan runs this one
            settings = build_settings(request.design, self.instruments)
            sample = self._sample(request.lab_id, request.sample_id)
            queue = self._queue_for(request.lab_id, request.queue, request.operator)
            handle = queue.enqueue(Scan(settings, sample))
        if request.start and queue.state is QueueState.IDLE:
            queue.start()
        self._changed()
        return Enqueued(handle.scan_id, queue.db_queue_id, queue.QID)

    def control(self, queue_id: int, action: Action | str, scan_id: str | None = None) -> str:
        """Act on a queue (``scan_id`` None) or on one of its scans; returns its new state."""
        queue = self.queue(queue_id)
        if queue is None:
            raise StationError(f"{self.name} does not run queue {queue_id}")
        if scan_id is None:
            word = Action.for_queue(action).value
            getattr(queue, word)()
            return queue.state.value
        word = Action.for_scan(action).value
        getattr(queue, f"{word}_scan")(scan_id)
        return queue.get_handle(scan_id).state.value

    def queues(self, lab_id: int | None = None) -> list[QueueSummary]:
        """The queues this station runs (of one lab, if given), by name."""
        with self._lock:
            queues = list(self._queues.values())
        return sorted(
            (
                QueueSummary(q.db_queue_id, q.QID, q.state.value, q.lab_id)
                for q in queues
                if lab_id is None or q.lab_id == lab_id
            ),
            key=lambda summary: (summary.name, summary.id),
        )

    def catalogue(self) -> list[InstrumentInfo]:
        """The instruments scans can be built from, by name."""
        return self.instruments.catalogue()

    # -- queues ------------------------------------------------------------------------

    def queue(self, queue_id: int) -> DatabaseQueue | None:
        """The queue with this record id, if this station runs it."""
        with self._lock:
            return self._queues.get(queue_id)

    def runs(self, queue_id: int) -> bool:
        """Whether this station runs the queue with this record id."""
        return self.queue(queue_id) is not None

    def open_queue(
        self,
        lab_id: int | None,
        name: str,
        operator: str | None = None,
        project_id: int | None = None,
    ) -> DatabaseQueue:
        """A new queue on this station (StationError if the lab runs one of that name)."""
        if any(summary.name == name for summary in self.queues(lab_id)):
            raise StationError(f"a queue {name!r} runs in this lab already; choose it in the list")
        try:
            queue = DatabaseQueue(
                name,
                self.db,
                project_id,
                operator=operator,
                lab_id=lab_id,
                record_extra=self._record_extra(),
            )
        except (QueueStateError, QueueRunningError) as exc:  # run by another process
            raise StationError(str(exc)) from exc
        return self.add_queue(queue)

    def add_queue(self, queue: DatabaseQueue) -> DatabaseQueue:
        """Run ``queue`` on this station: followed live, controllable, listed.

        Add it before enqueuing scans, so every scan publishes its rows.
        """
        follow_queue(queue, self.bus)
        # a scan whose instrument stops answering pauses until the monitor reconnects it
        queue.set_reconnector(self.health.scan_lost)
        queue.add_state_callback(
            lambda _scan_id, state: state is ScanState.RUNNING and self.health.scan_starting()
        )
        self.health.start()
        queue.add_queue_state_callback(lambda _state: self._changed())
        queue.add_state_callback(
            lambda _scan_id, state: state.finished and self._scan_finished(queue)
        )
        with self._lock:
            self._queues[queue.db_queue_id] = queue
        self._changed()
        return queue

    def adopt(self) -> int:
        """Take back the queues an earlier run of this computer left; returns how many.

        Their spooled points are stored, scans they were running when it stopped are marked
        interrupted, and scans still waiting are queued again, so the queues can be started
        and controlled from the browser as before.
        """
        if self.identity is None:
            raise StationError("a station learns which computer it is before taking back queues")
        taken = 0
        for record in self._left_queues():
            if self.runs(record.id) or held_by_another_process(record):
                continue  # ours already, or another server process of this computer holds it
            try:
                queue = DatabaseQueue.from_database(
                    self.db,
                    record.queue_id,
                    lab_id=record.lab_id,
                    record_extra=self._record_extra(),
                )
            except (QueueStateError, QueueRunningError) as exc:  # another process still runs it
                log.warning("leaving queue %r alone: %s", record.queue_id, exc)
                continue
            self.add_queue(queue)
            waiting = queue.requeue_incomplete(("queued",))
            queue.log(
                "WARNING",
                f"{self.name} stopped while this queue was open; taken back"
                + (f" with {len(waiting)} waiting scan(s) queued again" if waiting else ""),
            )
            taken += 1
        return taken

    def register_as_this_computer(self) -> StationIdentity:
        """Be the computer this process runs on: registered (lab-less) on first start."""
        computer = self.db.register_computer(get_computer_info())
        self.identity = StationIdentity(
            computer.id, computer.nickname or computer.computer_name, computer.lab_id
        )
        return self.identity

    def discover(self) -> LoadedInstruments:
        """Load the instruments bound to this computer that are not loaded yet; offer them.

        Each is rebuilt with the adapter and settings it last used and connected; the
        database learns which connected (and when) and which failed, and why.
        """
        if self.identity is None:
            raise StationError("a station learns which computer it is before loading instruments")
        self._load_drivers()
        with self._lock:
            loaded_already = set(self._bindings)
        loaded = load_bound_instruments(
            self.db,
            self.identity.computer_id,
            skip=loaded_already,
            device=self._device,
            stored_code=self.runs_stored_code,
        )
        for binding, instrument in list(loaded.instruments):
            if self.instruments.get(instrument.name) is not None:
                loaded.instruments.remove((binding, instrument))
                why = "another instrument on this computer has that name"
                loaded.failures.append((binding, why))
                continue
            self.instruments.add(instrument)
            with self._lock:
                self._bindings[binding["id"]] = instrument.name
                self._written[binding["id"]] = _setup_of(instrument)
            self._note_binding(binding, "connected", instrument=instrument)
        for binding, why in loaded.failures:
            self._note_binding(binding, "error", error=why)
        self._changed()
        self.health.start()
        return loaded

    def _load_drivers(self) -> None:
        """Make installed packages' drivers and the lab's driver files known (again)."""
        for package, why in load_installed_drivers().items():
            log.warning("drivers of %s not available: %s", package, why)
        files = load_driver_files()
        for failure in files.failures:
            log.warning("driver file not loaded: %s", failure)

    def load_bound(self) -> LoadSummary:
        """Load the instruments bound here since the last time; say which did and why not.

        Instruments whose stored driver has a newly approved version are renewed too.
        """
        with self._instruments_lock:
            renewed = self.refresh_drivers()
        loaded = self.discover()
        return LoadSummary(
            renewed.loaded + [instrument.name for _, instrument in loaded.instruments],
            {
                **renewed.failed,
                **{binding["instrument"]["name"]: why for binding, why in loaded.failures},
            },
        )

    def find_instruments(self) -> FoundInstruments:
        """The VISA resources this computer reaches, what each says it is, which driver fits.

        Instruments in use here are listed but not asked, so a running scan is not
        disturbed.
        """
        in_use = [instrument.adapter for instrument in self.instruments.all() if instrument.adapter]
        found = scan_visa_resources(exclude=in_use)
        paths = {path for each in found for path in each.candidates}
        return FoundInstruments(
            found, {path: resolve_instrument_class(path).kind for path in paths}
        )

    def refresh_drivers(self) -> LoadSummary:
        """Renew instruments whose stored driver has a newly approved version.

        An instrument that a queued or running scan holds keeps the version it has until
        that scan ends (it is renewed then). One whose new version does not load keeps
        its old one; the summary and the instrument's status say why.
        """
        renewed = LoadSummary([], {})
        if self.identity is None:
            return renewed
        with self._lock:
            loaded = dict(self._bindings)
        if not loaded:
            return renewed
        with self._instruments_lock:
            for binding in self.db.get_computer_bindings(computer_id=self.identity.computer_id):
                name = loaded.get(binding["id"])
                current = self.instruments.get(name) if name else None
                if current is None or not driver_outdated(current, binding):
                    continue
                if not self.runs_stored_code and _stored(binding):
                    renewed.failed[current.name] = STORED_CODE_ELSEWHERE.format(
                        definition=binding["instrument"]["definition"]["name"]
                    )
                    continue
                if self._held_by_a_scan(current):
                    with self._lock:
                        self._deferred.add(binding["id"])
                    log.info("%s keeps its driver until the scan using it ends", name)
                    continue
                with self._lock:
                    self._deferred.discard(binding["id"])
                why = self._renew(binding, current)
                if why is None:
                    renewed.loaded.append(current.name)
                else:
                    renewed.failed[current.name] = why
        if renewed.loaded:
            self._changed()
        return renewed

    def register_offered(self, instruments: list[Instrument]) -> None:
        """Record instruments given to this station in Python as this computer's own.

        Each gets an instrument record of the station's lab bound to this computer, with
        its adapter and settings, so the next start finds it among the bound ones.
        """
        if self.identity is None or self.identity.lab_id is None:
            raise StationError("only a station of one lab records the instruments it is given")
        equipment = EquipmentManager(self.db, self.identity.lab_id)
        for instrument in instruments:
            try:
                record = equipment.register_on_computer(instrument, self.identity.computer_id)
                equipment.update_status(record.id, "connected", instrument)
            except PyBirchError:
                log.exception("could not record instrument %s in the database", instrument.name)
                continue
            with self._lock:
                self._records[instrument.name] = (record.id, self.identity.lab_id)
            self.health.known(instrument, "connected")
            self.bus.publish(
                InstrumentStatus(
                    instrument.name,
                    "connected",
                    self.name,
                    self.identity.lab_id,
                    instrument_id=record.id,
                )
            )
        self.health.start()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever a queue is added or changes state."""
        self._listeners.append(listener)

    def current_events(self) -> list[Event]:
        """Each queue's state and each active scan's status, for a newly connected server."""
        events: list[Event] = []
        with self._lock:
            queues = list(self._queues.values())
        for queue in queues:
            active = [h for h in queue.handles if h.active]
            current = active[0].scan_id if active else None
            events.append(QueueStatus(queue.db_queue_id, queue.state.value, current, queue.lab_id))
            events.extend(
                ScanStatus(h.scan_id, h.state.value, h.progress, queue.lab_id, queue.db_queue_id)
                for h in active
            )
        return events

    def close(self, timeout: float = 30.0) -> None:
        """Abort what runs, store every point, and release every queue."""
        with self._lock:
            queues = list(self._queues.values())
            self._queues.clear()
        for queue in queues:
            if queue.state is not QueueState.IDLE:  # scans never started stay queued
                queue.abort()
                queue.wait_for_completion(timeout)
            queue.close()
        self.health.stop()

    # -- inside ------------------------------------------------------------------------

    def _check_lab(self, lab_id: int) -> None:
        if self.identity is not None and self.identity.lab_id not in (None, lab_id):
            raise StationError(f"{self.name} belongs to another lab")

    def _sample(self, lab_id: int, sample_id: int | None) -> Sample | None:
        if sample_id is None:
            return None
        try:
            record = self.db.get_sample(sample_id)
        except NotFoundError:
            record = None
        if record is None or record.lab_id != lab_id:
            raise DesignError({"sample_id": "no such sample"})
        return to_pybirch_sample(record)

    def _queue_for(self, lab_id: int, choice: QueueChoice, operator: str | None) -> DatabaseQueue:
        if choice.id is not None:
            queue = self.queue(choice.id)
            if queue is None or queue.lab_id != lab_id:
                raise DesignError({"queue": f"{self.name} does not run that queue"})
            return queue
        try:
            return self.open_queue(lab_id, str(choice.name), operator)
        except StationError as exc:
            raise DesignError({"new_queue": str(exc)}) from exc

    def _left_queues(self) -> list[QueueRecord]:
        """Records of this computer's queues that were open when an earlier run stopped."""
        assert self.identity is not None
        found = []
        for status in ADOPTED_STATUSES:
            page = 1
            while True:
                records = self.db.search_queues(
                    lab_id=self.identity.lab_id, status=status, page=page, per_page=RECORDS_PER_PAGE
                )
                found += [
                    record
                    for record in records.items
                    if (record.extra_data or {}).get("computer_id") == self.identity.computer_id
                ]
                if not records.has_next:
                    break
                page += 1
        return sorted(found, key=lambda record: record.id)

    def _scan_finished(self, queue: DatabaseQueue) -> None:
        """Record changed settings; renew drivers that waited for this scan to end."""
        self.health.check_now()  # its instruments are free again: not busy any more
        queue.data_manager.call("recording instruments' settings", self._write_back)
        with self._lock:
            waiting = bool(self._deferred)
        if waiting:
            threading.Thread(
                target=self._refresh_logged, name="pybirch-driver-refresh", daemon=True
            ).start()

    def _refresh_logged(self) -> None:
        try:
            self.refresh_drivers()
        except Exception:  # a thread of its own: nobody else would hear of it
            log.exception("renewing instruments with newly approved drivers failed")

    def _held_by_a_scan(self, instrument: Instrument) -> bool:
        """Whether a scan that has not ended (queued, running, paused) uses ``instrument``."""
        with self._lock:
            queues = list(self._queues.values())
        return any(
            any(used is instrument for used in handle.scan.instruments())
            for queue in queues
            for handle in queue.handles
            if not handle.state.finished
        )

    def _instruments_in_use(self) -> set[str]:
        """The devices (``resource_key``) running or paused scans hold: busy, not asked."""
        with self._lock:
            queues = list(self._queues.values())
        return {
            key
            for queue in queues
            for handle in queue.handles
            if handle.state.active
            for key in handle.scan.resource_keys()
        }

    def _note_health(self, instrument: Instrument, status: str, error: str | None) -> None:
        """Record a change the health monitor saw in the status history, and announce it."""
        with self._lock:
            record_id, lab_id = self._records.get(instrument.name, (None, None))
        if record_id is None:
            log.info("instrument %s (no record) is %s: %s", instrument.name, status, error or "")
        else:
            try:
                self.db.update_instrument_status(record_id, status, error_message=error)
            except PyBirchError:
                log.exception("could not record that instrument %r is %s", instrument.name, status)
        self.bus.publish(
            InstrumentStatus(
                instrument.name, status, self.name, lab_id, error=error, instrument_id=record_id
            )
        )

    def _renew(self, binding: dict[str, Any], current: Instrument) -> str | None:
        """Replace ``current`` by the binding's newly approved driver, or keep it and say why."""
        _shut_down(current)
        try:
            replacement = instrument_from_binding(
                binding, self._device, stored_code=self.runs_stored_code
            )
        except BindingLoadError as exc:
            log.warning(
                "%s keeps its driver: the approved one does not load: %s", current.name, exc
            )
            self._note_binding(binding, "error", error=f"new driver version not loaded: {exc}")
            try:
                current.connect_or_raise()
            except Exception as again:  # the driver's own failure, reported for this one
                log.exception("%s did not reconnect with its old driver", current.name)
                self._note_binding(binding, "error", error=f"{type(again).__name__}: {again}")
            return f"the approved driver did not load, so the old one runs: {exc}"
        self.instruments.add(replacement)
        with self._lock:
            self._written[binding["id"]] = _setup_of(replacement)
        self._note_binding(binding, "connected", instrument=replacement)
        log.info("%s now runs %s", replacement.name, driver_origin(type(replacement)))
        return None

    def _write_back(self) -> None:
        """Record the adapter and settings of bound instruments that changed since last time."""
        with self._lock:
            bindings = dict(self._bindings)
        for binding_id, name in bindings.items():
            instrument = self.instruments.get(name)
            if instrument is None:
                continue
            adapter, settings = setup = _setup_of(instrument)
            with self._lock:
                if self._written.get(binding_id) == setup:
                    continue
                self._written[binding_id] = setup
            try:
                self.db.record_binding_use(binding_id, adapter=adapter or None, settings=settings)
            except (PyBirchError, ValueError, TypeError):
                log.exception("could not write back the settings of instrument %r", name)

    def _note_binding(
        self,
        binding: dict[str, Any],
        status: str,
        *,
        instrument: Instrument | None = None,
        error: str | None = None,
    ) -> None:
        """Write back what became of a bound instrument (and its driver), and announce it."""
        record = binding["instrument"]
        settings = None if instrument is None else dict(instrument.settings)
        if instrument is not None:
            with self._lock:
                self._records[instrument.name] = (record["id"], record.get("lab_id"))
            self.health.known(instrument, status, error)
        try:
            self.db.record_binding_use(
                binding["id"],
                settings=settings,
                connected=status == "connected",
                loaded_driver=None if instrument is None else driver_origin(type(instrument)),
            )
            self.db.update_instrument_status(
                record["id"], status, current_settings=settings, error_message=error
            )
        except PyBirchError:
            log.exception("could not record that instrument %r is %s", record["name"], status)
        self.bus.publish(
            InstrumentStatus(
                record["name"],
                status,
                self.name,
                record.get("lab_id"),
                error=error,
                instrument_id=record["id"],
            )
        )

    def _record_extra(self) -> dict[str, Any]:
        if self.identity is None:
            return {}
        return {"computer_id": self.identity.computer_id, "computer": self.identity.name}

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # a listener's failure must not undo what the station did
                log.exception("a station listener failed")

    # -- manual control: an instrument's page -----------------------------------------

    #: Seconds a manual move, reading or change of settings may take.
    manual_timeout: float = MANUAL_TIMEOUT

    def move(self, target: ManualTarget, position: float) -> Moved:
        """Move a movement instrument to ``position`` (its units), within its limits."""
        try:
            value = float(position)
        except (TypeError, ValueError):
            raise StationError(f"{position!r} is not a position") from None

        def act(instrument: Instrument) -> Moved:
            if not isinstance(instrument, Movement):
                raise StationError(f"{instrument.name} measures; it does not move")
            try:
                instrument.check_positions([value])  # NaN, and the limits, before anything moves
            except PyBirchError as exc:
                raise StationError(str(exc)) from exc

            def go() -> Moved:
                instrument.position = value
                return Moved(float(instrument.position), instrument.position_units)

            return within(self.manual_timeout, f"moving {instrument.name}", go)

        return self._manually(target, act)

    def measure_once(self, target: ManualTarget) -> Reading:
        """Take one reading of a measurement instrument: its columns, units and rows."""

        def act(instrument: Instrument) -> Reading:
            if not isinstance(instrument, Measurement):
                raise StationError(f"{instrument.name} moves; it does not measure")
            values = within(
                self.manual_timeout, f"reading {instrument.name}", instrument.perform_measurement
            )
            return Reading.of(
                [str(c) for c in instrument.data_columns],
                [str(u) for u in instrument.data_units],
                values,
            )

        return self._manually(target, act)

    def apply_settings(self, target: ManualTarget, settings: dict[str, Any]) -> SettingsApplied:
        """Set ``settings`` on the live instrument and write them back to its records."""
        if not isinstance(settings, dict) or not settings:
            raise StationError("send the settings to apply as a non-empty object")

        def act(instrument: Instrument) -> SettingsApplied:
            def assign() -> None:
                instrument.settings = dict(settings)

            try:
                within(self.manual_timeout, f"setting up {instrument.name}", assign)
            except SettingsError as exc:  # the driver's schema or rules refused a value
                raise StationError(str(exc)) from exc
            setup = _setup_of(instrument)
            with self._lock:
                self._written[target.binding_id] = setup
            try:
                self.db.record_binding_use(
                    target.binding_id, settings=setup[1], connected=False, lab_id=target.lab_id
                )
            except (PyBirchError, ValueError) as exc:  # set, but the record does not know
                log.exception("could not write back the settings of %s", instrument.name)
                raise StationError(
                    f"{instrument.name} has the new settings, but they were not written back: {exc}"
                ) from exc
            self._changed()  # an agent reports its instruments' new settings to the server
            return SettingsApplied(setup[1])

        return self._manually(target, act)

    def _manually(self, target: ManualTarget, act: Callable[[Instrument], Any]) -> Any:
        """Carry out ``act`` on the target's live instrument, unless a scan holds it.

        The instruments lock is held meanwhile, so no scan takes the instrument halfway;
        an instrument's own failure is an InstrumentActionError naming it.
        """
        self._check_lab(target.lab_id)
        if not self._instruments_lock.acquire(timeout=self.manual_timeout):
            raise StationError(f"{self.name} is busy changing its instruments; try again")
        try:
            instrument = self._manual_instrument(target)
            if self._held_by_a_scan(instrument):
                raise StationError(
                    f"a scan that has not ended uses {instrument.name}: pause is not enough, "
                    "wait for it to end or abort it first"
                )
            try:
                return act(instrument)
            except (StationError, InstrumentActionError):
                raise
            except Exception as exc:  # the driver's own failure, reported for this instrument
                log.warning("manual action on %s failed", instrument.name, exc_info=exc)
                raise InstrumentActionError(
                    f"{instrument.name}: {type(exc).__name__}: {exc}"
                ) from exc
        finally:
            self._instruments_lock.release()

    def _manual_instrument(self, target: ManualTarget) -> Instrument:
        """The live instrument a manual action is for (StationError if not loaded here)."""
        with self._lock:
            name = self._bindings.get(target.binding_id)
        one_lab = self.identity is not None and self.identity.lab_id == target.lab_id
        if name is None and one_lab:
            name = target.name  # offered in Python: its name is unique on this computer
        instrument = self.instruments.get(name) if name else None
        if instrument is None:
            raise StationError(
                f"{target.name} is not loaded on {self.name}; load the computer's "
                "instruments from its Instruments page"
            )
        return instrument


def driver_outdated(instrument: Instrument, binding: dict[str, Any]) -> bool:
    """Whether the binding now names other approved code than the instrument runs.

    A newly approved version, another stored definition, or the installed driver again;
    a definition with nothing approved yet leaves the instrument as it is.
    """
    definition = binding["instrument"].get("definition") or {}
    running = type(instrument)
    loaded = (
        getattr(running, "definition_id", None),
        getattr(running, "definition_code_hash", None),
    )
    wanted = (definition.get("id"), definition.get("approved_code_hash"))
    if wanted[0] is not None and not definition.get("source_code"):
        return False
    if wanted[0] is None and loaded[0] is None:
        return False  # an installed driver stays until the station restarts
    return loaded != wanted


def _stored(binding: dict[str, Any]) -> bool:
    """Whether the binding's driver is code stored in the database."""
    return bool((binding["instrument"].get("definition") or {}).get("source_code"))


def _shut_down(instrument: Instrument) -> None:
    try:
        instrument.shutdown()
    except Exception:  # the old driver's failure must not keep the new one out
        log.exception("shutting down %s before renewing its driver failed", instrument.name)


def _setup_of(instrument: Instrument) -> tuple[str, dict[str, Any]]:
    """An instrument's adapter and settings, as written back to its binding."""
    return instrument.adapter, json.loads(json.dumps(instrument.serialize()["settings"]))
