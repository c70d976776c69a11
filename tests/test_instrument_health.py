"""The health monitor: each change once, reconnects with back-off, leaves busy ones alone."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from pybirch.configuration import ConfigError
from pybirch.instruments import InstrumentDisconnectedError, Measurement
from pybirch.station.health import (
    BUSY,
    CONNECTED,
    DISCONNECTED,
    ERROR,
    HealthSettings,
    InstrumentHealth,
    health_settings,
)

WAIT = 30.0


class Watched:
    """Everything the fakes and the monitor do, with a condition to wait on."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.reports: list[tuple[str, str, str | None]] = []

    def report(self, instrument, status, error) -> None:
        with self.changed:
            self.reports.append((instrument.name, status, error))
            self.changed.notify_all()

    def statuses(self, name: str) -> list[str]:
        with self.changed:
            return [status for who, status, _ in self.reports if who == name]

    def wait_for(self, predicate, what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, WAIT), f"timed out waiting for {what}"

    def poke(self) -> None:
        with self.changed:
            self.changed.notify_all()


class PluggableMeter(Measurement):
    """Answers while plugged in; counts and times every check and reconnection attempt."""

    def __init__(self, name: str, watched: Watched, back_after: int | None = None) -> None:
        super().__init__(name)
        self.data_columns = np.array(["v"])
        self.data_units = np.array(["V"])
        self.watched = watched
        self.plugged = True
        #: Plug back in after this many failed reconnection attempts (None: never).
        self.back_after = back_after
        self.checks = 0
        self.attempts: list[float] = []
        self.broken = False

    def perform_measurement(self) -> np.ndarray:
        return np.zeros((1, 1))

    def check_connection(self) -> bool:
        self.checks += 1
        self.watched.poke()
        if self.broken:
            raise RuntimeError("driver bug")
        if not self.plugged:
            raise ConnectionResetError("link down")
        return True

    def reconnect(self) -> bool:
        self.attempts.append(time.monotonic())
        self.watched.poke()
        if not self.plugged and self.back_after is not None:
            self.plugged = len(self.attempts) > self.back_after
        if not self.plugged:
            raise ConnectionRefusedError("nothing at the address")
        return True


@pytest.fixture
def watched():
    return Watched()


@pytest.fixture
def make_monitor(watched):
    monitors = []

    def make(instruments, busy=(), **options):
        options = {"interval": 0.05, "attempts": 3, "backoff": 0.05, **options}
        monitor = InstrumentHealth(
            lambda: list(instruments),
            lambda: {each.resource_key for each in busy},
            watched.report,
            **options,
        )
        monitors.append(monitor)
        monitor.start()
        return monitor

    yield make
    for monitor in monitors:
        monitor.stop()


def test_each_change_of_status_is_reported_once_however_often_it_is_checked(watched, make_monitor):
    meter = PluggableMeter("meter", watched, back_after=1)
    monitor = make_monitor([meter], interval=0.02)
    watched.wait_for(lambda: meter.checks >= 5, "five checks")
    assert watched.statuses("meter") == [CONNECTED]

    meter.plugged = False
    watched.wait_for(
        lambda: watched.statuses("meter")[-1:] == [CONNECTED] and meter.attempts, "its return"
    )
    checks = meter.checks
    watched.wait_for(lambda: meter.checks >= checks + 5, "five more checks")

    assert watched.statuses("meter") == [CONNECTED, DISCONNECTED, CONNECTED]
    disconnected = next(r for r in watched.reports if r[1] == DISCONNECTED)
    assert disconnected[2] == "ConnectionResetError: link down"
    assert len(meter.attempts) == 2  # the first attempt failed, the second found it back
    assert monitor.status_of("meter") == (CONNECTED, None)


def test_a_lost_instrument_is_tried_with_back_off_then_given_up_and_later_found_again(
    watched, make_monitor
):
    meter = PluggableMeter("meter", watched)
    meter.plugged = False
    make_monitor([meter], interval=1.0, attempts=3, backoff=0.1)
    watched.wait_for(lambda: len(watched.statuses("meter")) >= 2, "giving up")

    assert watched.statuses("meter") == [DISCONNECTED, DISCONNECTED]
    gave_up = watched.reports[-1][2]
    assert gave_up.startswith("no answer after 3 reconnection attempt(s)")
    assert "ConnectionRefusedError: nothing at the address" in gave_up
    first, second, third = meter.attempts
    assert second - first >= 0.1  # back-off: 0.1 s, then twice that
    assert third - second >= 0.2

    meter.plugged = True  # plugged back later: tried once per interval, it is found again
    watched.wait_for(lambda: watched.statuses("meter")[-1] == CONNECTED, "found again")
    assert meter.attempts[3] - third >= 1.0


def test_a_scan_waiting_for_an_instrument_hears_when_it_is_back_or_given_up(watched, make_monitor):
    back = PluggableMeter("back", watched, back_after=1)
    gone = PluggableMeter("gone", watched)
    monitor = make_monitor([back, gone], interval=5.0, backoff=0.01)
    watched.wait_for(lambda: back.checks and gone.checks, "the first round")
    replies: dict[str, list] = {"back": [], "gone": []}

    def reply_to(name):
        def reply(outcome):
            replies[name].append(outcome)
            watched.poke()

        return reply

    back.plugged = gone.plugged = False
    monitor.scan_lost(back, OSError("read failed"), reply_to("back"))
    monitor.scan_lost(gone, OSError("read failed"), reply_to("gone"))
    watched.wait_for(lambda: replies["back"] and replies["gone"], "both replies")

    assert replies["back"] == [None]
    (failure,) = replies["gone"]
    assert isinstance(failure, InstrumentDisconnectedError)
    assert "no answer after 3 reconnection attempt(s)" in str(failure)
    assert len(gone.attempts) == 3
    assert watched.statuses("back") == [CONNECTED, DISCONNECTED, CONNECTED]
    lost = [r for r in watched.reports if r[0] == "back" and r[1] == DISCONNECTED]
    assert lost == [("back", DISCONNECTED, "OSError: read failed")]


def test_an_instrument_a_scan_holds_is_never_asked_and_shows_busy(watched, make_monitor):
    held = PluggableMeter("held", watched)
    free = PluggableMeter("free", watched)
    # a second driver of the held device (a meter on the source's GPIB address)
    same_device = PluggableMeter("same device", watched)
    held.adapter = same_device.adapter = "ASRL7::INSTR"
    make_monitor([held, free, same_device], busy=[held])
    watched.wait_for(lambda: free.checks >= 5, "five rounds")

    assert held.checks == same_device.checks == 0
    assert held.attempts == same_device.attempts == []
    assert watched.statuses("held") == watched.statuses("same device") == [BUSY]
    assert watched.statuses("free") == [CONNECTED]


def test_a_failing_check_is_an_error_not_a_disconnection(watched, make_monitor):
    meter = PluggableMeter("meter", watched)
    meter.broken = True
    make_monitor([meter])
    watched.wait_for(lambda: meter.checks >= 3, "three checks")
    assert watched.reports == [("meter", ERROR, "RuntimeError: driver bug")]
    assert meter.attempts == []  # a broken driver is not reconnected


def test_a_stopped_monitor_lets_no_scan_wait():
    monitor = InstrumentHealth(lambda: [], set, lambda *_: None, interval=1.0, attempts=3)
    replies = []
    meter = PluggableMeter("meter", Watched())
    monitor.scan_lost(meter, OSError("gone"), replies.append)  # never started
    assert isinstance(replies[0], InstrumentDisconnectedError)

    monitor.start()
    meter.plugged, meter.back_after = False, None
    monitor.scan_lost(meter, OSError("gone"), replies.append)
    monitor.stop()
    assert isinstance(replies[1], InstrumentDisconnectedError)
    assert "station stopped" in str(replies[1])


def test_settings_come_from_the_environment_with_clear_errors(monkeypatch):
    monkeypatch.delenv("INSTRUMENT_SCAN_INTERVAL", raising=False)
    monkeypatch.delenv("AUTO_RECONNECT_ATTEMPTS", raising=False)
    assert health_settings() == HealthSettings(10.0, 3)
    monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "2.5")
    monkeypatch.setenv("AUTO_RECONNECT_ATTEMPTS", "0")
    assert health_settings() == HealthSettings(2.5, 0)
    seconds = "expected a number of seconds greater than 0"
    whole = "expected a whole number of at least 0"
    for variable, value, words in [
        ("INSTRUMENT_SCAN_INTERVAL", "often", seconds),
        ("INSTRUMENT_SCAN_INTERVAL", "0", seconds),
        ("INSTRUMENT_SCAN_INTERVAL", "nan", seconds),
        ("AUTO_RECONNECT_ATTEMPTS", "2.5", whole),
        ("AUTO_RECONNECT_ATTEMPTS", "-1", whole),
    ]:
        monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "1")
        monkeypatch.setenv("AUTO_RECONNECT_ATTEMPTS", "1")
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigError, match=f"{variable}='{re.escape(value)}'.*{words}"):
            health_settings()


def test_a_lost_instrument_a_scan_takes_meanwhile_is_left_to_the_scan(watched, make_monitor):
    meter = PluggableMeter("meter", watched)
    meter.plugged = False
    busy: list[PluggableMeter] = []
    make_monitor([meter], busy=busy, interval=5.0, backoff=1.0)
    watched.wait_for(lambda: len(meter.attempts) == 1, "the first reconnection attempt")

    busy.append(meter)  # a scan starts with it before the next attempt
    watched.wait_for(lambda: BUSY in watched.statuses("meter"), "busy")

    assert len(meter.attempts) == 1  # never reopened under the scan
    assert watched.statuses("meter") == [DISCONNECTED, BUSY]
