"""A scan whose instrument stops answering pauses, waits for the reconnect and resumes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine_doubles import Recorder, RecordingStage
from pybirch.instruments import InstrumentDisconnectedError, Measurement
from pybirch.instruments.connection_loss import is_connection_loss
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanState, ScanTree
from pybirch.scan.instrument_loss import MAX_LOSSES_PER_POINT

WAIT = 30.0


class FlakyMeter(Measurement):
    """Reads its stage's position; raises ``failure`` on the readings numbered in ``fail_on``."""

    def __init__(self, name: str, stage: RecordingStage, fail_on=(), failure=None) -> None:
        super().__init__(name)
        self.data_columns = np.array(["reading"])
        self.data_units = np.array(["mm"])
        self.stage = stage
        self.fail_on = set(fail_on)
        self.failure = failure or OSError("USB device went away")
        self.readings = 0
        self.initialized = 0

    def initialize(self) -> None:
        self.initialized += 1

    def perform_measurement(self) -> np.ndarray:
        self.readings += 1
        if self.readings in self.fail_on:
            raise self.failure
        return np.array([[self.stage.position]])


class FakeReconnector:
    """Stands for a station's health monitor: records each request, answers when told."""

    def __init__(self, answer: BaseException | None = None, at_once: bool = True) -> None:
        self.answer = answer
        self.at_once = at_once
        self.requests: list[tuple[str, BaseException]] = []
        self.pending: list = []
        self.asked = threading.Event()

    def __call__(self, instrument, error, reply) -> None:
        self.requests.append((instrument.name, error))
        if self.at_once:
            reply(self.answer)
        else:
            self.pending.append(reply)
        self.asked.set()


def line_scan(meter_fails=(), points=10, failure=None):
    stage = RecordingStage("stage")
    meter = FlakyMeter("meter", stage, meter_fails, failure)
    tree = ScanTree(
        [MovementItem(stage, np.arange(points, dtype=float), children=[MeasurementItem(meter)])]
    )
    recorder = Recorder()
    scan = Scan(ScanSettings("p", "line", scan_tree=tree), extensions=[recorder], buffer_size=3)
    return scan, stage, meter, recorder


def test_a_lost_reading_pauses_the_scan_and_is_measured_again_after_the_reconnect():
    scan, _, meter, recorder = line_scan(meter_fails={4})
    reconnector = scan.reconnector = FakeReconnector()
    states = []
    scan.add_state_listener(lambda _scan, _old, new: states.append(new))

    assert scan.run() is ScanState.COMPLETED, scan.traceback

    assert [name for name, _ in reconnector.requests] == ["meter"]
    assert states == [ScanState.RUNNING, ScanState.PAUSED, ScanState.RUNNING, ScanState.COMPLETED]
    frame = recorder.frame("meter")
    # no hole and no duplicate: every position once, each reading taken at its position
    np.testing.assert_array_equal(frame["x (mm)"], np.arange(10.0))
    np.testing.assert_array_equal(frame["reading (mm)"], np.arange(10.0))
    np.testing.assert_array_equal(frame["point_index"], np.arange(10))
    assert meter.initialized == 2  # at the start, and again once it was back
    assert recorder.calls.count("on_pause") == recorder.calls.count("on_resume") == 1
    assert scan.waiting_for is None


def test_while_it_waits_the_scan_says_which_instrument_dropped_and_a_resume_does_not_end_it():
    scan, _, _, recorder = line_scan(meter_fails={3})
    reconnector = scan.reconnector = FakeReconnector(at_once=False)
    thread = threading.Thread(target=scan.run)
    thread.start()
    try:
        assert scan.wait_for_state(ScanState.PAUSED, timeout=WAIT)
        assert reconnector.asked.wait(WAIT)
        assert "meter stopped answering (OSError: USB device went away)" in scan.waiting_for
        scan.resume()  # a user's resume: the instrument is not back, so nothing changes
        assert not scan.wait_for_state(ScanState.RUNNING, timeout=0.3)
        reconnector.pending.pop()(None)
        assert scan.wait(WAIT)
    finally:
        thread.join(WAIT)
    assert scan.state is ScanState.COMPLETED
    assert len(recorder.frame("meter")) == 10


def test_when_the_reconnector_gives_up_the_scan_fails_with_its_error():
    gave_up = InstrumentDisconnectedError("no answer after 3 reconnection attempt(s)", "meter")
    scan, _, _, recorder = line_scan(meter_fails={6})
    scan.reconnector = FakeReconnector(answer=gave_up)

    assert scan.run() is ScanState.FAILED
    assert scan.error is gave_up
    assert len(recorder.frame("meter")) == 5  # the points before the loss are kept


def test_an_abort_ends_the_wait_for_a_lost_instrument():
    scan, _, _, _ = line_scan(meter_fails={2})
    reconnector = scan.reconnector = FakeReconnector(at_once=False)
    thread = threading.Thread(target=scan.run)
    thread.start()
    assert reconnector.asked.wait(WAIT)
    scan.abort()
    thread.join(WAIT)
    assert scan.state is ScanState.ABORTED


def test_without_a_reconnector_or_for_another_error_the_scan_fails_as_before():
    scan, _, _, _ = line_scan(meter_fails={4})
    assert scan.run() is ScanState.FAILED
    assert isinstance(scan.error, OSError)

    scan, _, _, _ = line_scan(meter_fails={4}, failure=ValueError("bad reading"))
    reconnector = scan.reconnector = FakeReconnector()
    assert scan.run() is ScanState.FAILED
    assert isinstance(scan.error, ValueError)
    assert reconnector.requests == []


def test_a_point_that_loses_its_instrument_again_and_again_fails_the_scan():
    fails = set(range(5, 5 + MAX_LOSSES_PER_POINT + 1))
    scan, _, _, _ = line_scan(meter_fails=fails)
    reconnector = scan.reconnector = FakeReconnector()

    assert scan.run() is ScanState.FAILED
    assert isinstance(scan.error, OSError)
    assert len(reconnector.requests) == MAX_LOSSES_PER_POINT


def test_an_os_error_of_the_scans_own_extension_is_no_lost_instrument():
    class BrokenDisk(Recorder):
        def save_data(self, df, measurement_name):
            raise OSError("No space left on device")

    stage = RecordingStage("stage")
    tree = ScanTree(
        [MovementItem(stage, np.arange(10.0), children=[MeasurementItem(FlakyMeter("m", stage))])]
    )
    scan = Scan(ScanSettings("p", "l", scan_tree=tree), extensions=[BrokenDisk()], buffer_size=2)
    reconnector = scan.reconnector = FakeReconnector()

    assert scan.run() is ScanState.FAILED
    assert "No space left" in str(scan.error)
    assert reconnector.requests == []


class TwoStage(RecordingStage):
    """An outer stage that drops its link on the move numbered ``fail_on``."""

    def __init__(self, name: str, fail_on: int) -> None:
        super().__init__(name, column="y")
        self.fail_on = fail_on
        self.attempts = 0

    @RecordingStage.position.setter
    def position(self, value: float) -> None:
        self.attempts += 1
        if self.attempts == self.fail_on:
            raise InstrumentDisconnectedError("serial link lost", self.name)
        RecordingStage.position.fset(self, value)


def test_a_2d_scan_with_two_readings_per_point_resumes_without_a_duplicate():
    """An outer movement and the second of two sibling readings each drop once."""
    outer = TwoStage("outer", fail_on=3)
    inner = RecordingStage("inner")
    first = FlakyMeter("first", inner)
    second = FlakyMeter("second", inner, fail_on={7}, failure=InstrumentDisconnectedError("gone"))
    tree = ScanTree(
        [
            MovementItem(
                outer,
                np.arange(3.0),
                children=[
                    MovementItem(
                        inner,
                        np.arange(4.0),
                        children=[MeasurementItem(first), MeasurementItem(second)],
                    )
                ],
            )
        ]
    )
    recorder = Recorder()
    scan = Scan(ScanSettings("p", "grid", scan_tree=tree), extensions=[recorder], buffer_size=5)
    reconnector = scan.reconnector = FakeReconnector()

    assert scan.run() is ScanState.COMPLETED, scan.traceback

    assert [name for name, _ in reconnector.requests] == ["second", "outer"]
    for name in ("first", "second"):
        frame = recorder.frame(name)
        np.testing.assert_array_equal(frame["point_index"], np.arange(12))
        np.testing.assert_array_equal(frame["y (mm)"], np.repeat(np.arange(3.0), 4))
        np.testing.assert_array_equal(frame["x (mm)"], np.tile(np.arange(4.0), 3))
        np.testing.assert_array_equal(frame["reading (mm)"], frame["x (mm)"])


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (InstrumentDisconnectedError("gone"), True),
        (ConnectionResetError("reset"), True),
        (TimeoutError("timed out"), True),
        (ValueError("not a number"), False),
        (RuntimeError("driver bug"), False),
    ],
)
def test_which_errors_mean_a_lost_instrument(error, lost):
    assert is_connection_loss(error) is lost


def test_visa_errors_count_by_their_code_and_a_drivers_wrapper_by_its_cause():
    import pyvisa.errors
    from pyvisa.constants import StatusCode

    from pybirch.instruments import InstrumentError

    lost = pyvisa.errors.VisaIOError(StatusCode.error_connection_lost)
    refused = pyvisa.errors.VisaIOError(StatusCode.error_nonsupported_format)
    assert is_connection_loss(lost)
    assert is_connection_loss(pyvisa.errors.VisaIOError(StatusCode.error_timeout))
    assert not is_connection_loss(refused)
    wrapped_loss, wrapped_refusal = InstrumentError("no answer"), InstrumentError("refused")
    wrapped_loss.__cause__, wrapped_refusal.__cause__ = lost, refused  # raise ... from ...
    assert is_connection_loss(wrapped_loss)
    assert not is_connection_loss(wrapped_refusal)
