"""Live instrument health: a station's instruments checked, and lost ones reconnected.

Every ``INSTRUMENT_SCAN_INTERVAL`` seconds :class:`InstrumentHealth` asks each instrument no
scan is using whether it answers (:meth:`~pybirch.instruments.base.Instrument.check_connection`)
and gives it one of four statuses:

* ``connected``: it answered;
* ``disconnected``: it did not, or its link failed
  (:func:`~pybirch.instruments.connection_loss.is_connection_loss`);
* ``error``: asking it raised anything else (a driver's failure);
* ``busy``: a running or paused scan holds it (or another driver of the same device: a
  source and a meter on one GPIB address), so it is not asked: a check never comes between
  a scan and its instrument.

A disconnected instrument is reconnected (:meth:`~pybirch.instruments.base.Instrument.reconnect`)
at once and then after 1, 2, 4... times ``backoff`` seconds (a tenth of the interval unless
given: 1 s, 2 s, 4 s for 10 s), ``AUTO_RECONNECT_ATTEMPTS`` times in all; giving up is
recorded too, and a scan waiting for the instrument fails. After that it is tried once a
round, in case it is plugged back later. A scan
whose instrument stops answering asks for the same (:meth:`InstrumentHealth.scan_lost`, the
scan's reconnector; see :mod:`pybirch.scan.instrument_loss`) and hears when it is back or
when the monitor gave up. Only changes are reported (one call per change of status, never
one per check); the station records each in the instrument's status history and publishes
it live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pybirch.configuration import current_config
from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.instruments.connection_loss import is_connection_loss
from pybirch.instruments.errors import InstrumentConnectionError, InstrumentDisconnectedError
from pybirch.scan.instrument_loss import Reply

log = logging.getLogger(__name__)

CONNECTED = "connected"
DISCONNECTED = "disconnected"
ERROR = "error"
BUSY = "busy"

#: Seconds between two checks of an instrument, unless ``INSTRUMENT_SCAN_INTERVAL`` says.
DEFAULT_INTERVAL = 10.0
#: Reconnection attempts before giving up, unless ``AUTO_RECONNECT_ATTEMPTS`` says.
DEFAULT_ATTEMPTS = 3
#: Fraction of the interval before the second reconnection attempt (later ones: twice longer).
BACKOFF_PART = 0.1

#: ``report(instrument, status, error)``: one call per change of an instrument's status.
Report = Callable[[Instrument, str, str | None], None]


class HealthSettingsError(PyBirchError, ValueError):
    """A health monitor was given an interval, attempts or back-off it cannot use."""


@dataclass(frozen=True)
class HealthSettings:
    """How often instruments are checked and how often a lost one is reconnected."""

    interval: float = DEFAULT_INTERVAL
    attempts: int = DEFAULT_ATTEMPTS


def health_settings() -> HealthSettings:
    """``INSTRUMENT_SCAN_INTERVAL`` and ``AUTO_RECONNECT_ATTEMPTS`` from the configuration."""
    config = current_config()
    return HealthSettings(config.instrument_scan_interval, config.auto_reconnect_attempts)


@dataclass
class _Track:
    """What the monitor knows of one instrument (by name)."""

    instrument: Instrument
    status: str | None = None
    error: str | None = None
    #: True from a failed check or a scan's report until a reconnection succeeds.
    lost: bool = False
    attempts: int = 0
    gave_up: bool = False
    next_try: float = 0.0
    #: Scans waiting for it to come back.
    waiting: list[Reply] = field(default_factory=list)


class InstrumentHealth:
    """Checks a station's instruments in a thread of its own; reconnects the lost ones."""

    def __init__(
        self,
        instruments: Callable[[], list[Instrument]],
        in_use: Callable[[], set[str]],
        report: Report,
        *,
        interval: float | None = None,
        attempts: int | None = None,
        backoff: float | None = None,
    ) -> None:
        """``instruments()`` lists what to watch; ``in_use()`` gives the ``resource_key`` of
        every instrument a running or paused scan holds; ``report`` hears each change.
        Interval and attempts default to :func:`health_settings`."""
        if interval is None or attempts is None:
            defaults = health_settings()
            interval = defaults.interval if interval is None else interval
            attempts = defaults.attempts if attempts is None else attempts
        self.interval, self.attempts = float(interval), int(attempts)
        self.backoff = self.interval * BACKOFF_PART if backoff is None else float(backoff)
        if self.interval <= 0 or self.attempts < 0 or self.backoff < 0:
            raise HealthSettingsError("the interval must be positive, attempts and back-off >= 0")
        self._instruments = instruments
        self._in_use = in_use
        self._report = report
        self._tracks: dict[str, _Track] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Held while an instrument is asked; a scan starting waits for it (:meth:`scan_starting`).
        self._talking = threading.Lock()
        #: Counts scans that started: a round re-reads who is busy when it changed.
        self._scan_starts = 0
        #: When the next round of checks is due (time.monotonic()); the first at once.
        self._due = 0.0

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Start checking (once; later calls do nothing)."""
        with self._wake:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(
                target=self._run, name="pybirch-instrument-health", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop checking; scans waiting for an instrument hear that nobody will bring it back."""
        with self._wake:
            self._stopping = True
            thread = self._thread
            waiting = [(t, reply) for t in self._tracks.values() for reply in t.waiting]
            for track in self._tracks.values():
                track.waiting.clear()
            self._wake.notify_all()
        for track, reply in waiting:
            why = "the station stopped before the instrument was reconnected"
            reply(InstrumentDisconnectedError(why, track.instrument.name))
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- what others ask ---------------------------------------------------------------

    def status_of(self, name: str) -> tuple[str | None, str | None]:
        """The last status of an instrument and its error, (None, None) before its first check."""
        with self._wake:
            track = self._tracks.get(name)
            return (None, None) if track is None else (track.status, track.error)

    def check_now(self) -> None:
        """Check every instrument now instead of at the end of the interval."""
        with self._wake:
            self._due = 0.0
            self._wake.notify_all()

    def scan_lost(self, instrument: Instrument, error: BaseException, reply: Reply) -> None:
        """A scan's reconnector: bring ``instrument`` back, then ``reply(None)`` (or an error)."""
        with self._wake:
            if self._stopping or self._thread is None:
                stopped = True
            else:
                stopped = False
                track = self._track(instrument)
                track.waiting.append(reply)
                track.error = f"{type(error).__name__}: {error}"
                if not track.lost or track.gave_up:
                    self._lose(track, time.monotonic())
                self._wake.notify_all()
        if stopped:
            why = "no health monitor runs to reconnect it"
            reply(InstrumentDisconnectedError(why, instrument.name))

    def scan_starting(self) -> None:
        """A scan takes its instruments now: wait for a question in progress, ask no more.

        A round follows at once, so its instruments show busy without waiting an interval.
        """
        with self._talking:
            self._scan_starts += 1
        self.check_now()

    def known(self, instrument: Instrument, status: str, error: str | None = None) -> None:
        """Note a status the station recorded itself (on loading), so it is not reported twice."""
        with self._wake:
            track = self._track(instrument)
            if not track.lost:
                track.status, track.error = status, error

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = time.monotonic()
                wake_at = min([self._due, *self._reconnections_due()])
                if wake_at > now:
                    self._wake.wait(wake_at - now)
                    continue
                round_due = self._due <= now
                if round_due:
                    self._due = now + self.interval
            try:
                if round_due:
                    self._round()
                self._reconnect_due()
            except Exception:  # a thread of its own: nobody else would hear of it
                log.exception("checking the instruments' health failed; trying again next round")

    def _reconnections_due(self) -> list[float]:
        return [t.next_try for t in self._tracks.values() if t.lost]

    def _round(self) -> None:
        """Check every instrument no scan holds; note the busy ones."""
        instruments = self._instruments()
        self._forget_all_but({instrument.name for instrument in instruments})
        with self._talking:
            starts, busy = self._scan_starts, self._in_use()
        for instrument in instruments:
            with self._wake:
                track = self._track(instrument)
                if track.lost:
                    continue  # being reconnected
            with self._talking:
                if self._scan_starts != starts:  # a scan started since: who is busy now?
                    starts, busy = self._scan_starts, self._in_use()
                if instrument.resource_key in busy:
                    status, error = BUSY, None
                else:
                    status, error = _ask(instrument.check_connection)
            if status == DISCONNECTED:
                with self._wake:
                    track.error = error
                    self._lose(track, time.monotonic())
            else:
                self._change(track, status, error)

    def _reconnect_due(self) -> None:
        """Try to reconnect every lost instrument whose turn it is."""
        now = time.monotonic()
        with self._wake:
            due = [
                (t, bool(t.waiting)) for t in self._tracks.values() if t.lost and t.next_try <= now
            ]
        for track, scan_waits in due:
            self._change(track, DISCONNECTED, track.error)
            if self.attempts == 0 and not track.gave_up:  # reconnecting is switched off
                self._failed_attempt(track, track.error)
                continue
            with self._talking:
                # a scan that took the instrument since is not disturbed: it reports a loss
                taken = not scan_waits and track.instrument.resource_key in self._in_use()
                status, error = (BUSY, None) if taken else _ask(track.instrument.reconnect)
            if status == BUSY:
                with self._wake:
                    track.lost, track.gave_up, track.attempts = False, False, 0
                self._change(track, BUSY, None)
            elif status == CONNECTED:
                self._back(track)
            else:
                self._failed_attempt(track, error)

    def _back(self, track: _Track) -> None:
        with self._wake:
            track.lost, track.gave_up, track.attempts = False, False, 0
            waiting, track.waiting = track.waiting, []
        log.info("%s answers again", track.instrument.name)
        self._change(track, CONNECTED, None)
        for reply in waiting:
            reply(None)

    def _failed_attempt(self, track: _Track, error: str | None) -> None:
        name = track.instrument.name
        with self._wake:
            track.attempts += 1
            track.error = error or track.error
            if track.gave_up or track.attempts < self.attempts:
                delay = self.interval if track.gave_up else self.backoff * 2 ** (track.attempts - 1)
                track.next_try = time.monotonic() + min(delay, self.interval)
                log.info("%s: reconnection attempt %d failed: %s", name, track.attempts, error)
                return
            track.gave_up = True
            track.next_try = time.monotonic() + self.interval
            track.error = (
                f"no answer after {self.attempts} reconnection attempt(s): {error}"
                if self.attempts
                else f"not reconnected (AUTO_RECONNECT_ATTEMPTS is 0): {error}"
            )
            waiting, track.waiting = track.waiting, []
        log.warning("%s: %s", name, track.error)
        self._change(track, DISCONNECTED, track.error, again=True)
        for reply in waiting:
            reply(InstrumentDisconnectedError(track.error, name))

    # -- bookkeeping -------------------------------------------------------------------------

    def _track(self, instrument: Instrument) -> _Track:
        """The instrument's track (its newest object: a renewed driver replaces the old)."""
        track = self._tracks.get(instrument.name)
        if track is None:
            track = self._tracks[instrument.name] = _Track(instrument)
        track.instrument = instrument
        return track

    def _forget_all_but(self, names: set[str]) -> None:
        """Forget instruments the station no longer has (none a scan waits for)."""
        with self._wake:
            for name in [n for n, t in self._tracks.items() if n not in names and not t.waiting]:
                del self._tracks[name]

    def _lose(self, track: _Track, now: float) -> None:
        """Start reconnecting: the first attempt at once (the caller holds ``_wake``)."""
        track.lost, track.gave_up, track.attempts, track.next_try = True, False, 0, now
        self._wake.notify_all()

    def _change(self, track: _Track, status: str, error: str | None, again: bool = False) -> None:
        """Report a change of status (nothing when it stays the same, unless ``again``)."""
        with self._wake:
            if track.status == status and not again:
                track.error = error if error is not None else track.error
                return
            track.status, track.error = status, error
        try:
            self._report(track.instrument, status, error)
        except Exception:  # a failed report must not stop the checks
            log.exception("could not report that %s is %s", track.instrument.name, status)


def _ask(question: Callable[[], bool]) -> tuple[str, str | None]:
    """Ask an instrument (check or reconnect): its status and, if not connected, why."""
    try:
        answered = question()
    except Exception as exc:  # noqa: BLE001 - the instrument's failure is its status
        lost = is_connection_loss(exc) or isinstance(exc, InstrumentConnectionError)
        return (DISCONNECTED if lost else ERROR), f"{type(exc).__name__}: {exc}"
    return (CONNECTED, None) if answered else (DISCONNECTED, "did not answer")
