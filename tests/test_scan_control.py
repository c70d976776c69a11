"""Pause, resume, abort and failure: no point duplicated, lost or taken at the wrong place."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine_doubles import PositionProbe, Recorder, RecordingStage
from pybirch.instruments import MeasurementShapeError, MovementLimitError
from pybirch.scan import (
    MeasurementItem,
    MovementItem,
    Scan,
    ScanSettings,
    ScanState,
    ScanStateError,
    ScanTree,
)


def raster(ny: int = 4, nx: int = 6):
    y, x = RecordingStage("y stage", "y"), RecordingStage("x stage", "x")
    probe = PositionProbe("probe", [y, x])
    tree = ScanTree(
        [
            MovementItem(
                y,
                np.arange(ny, dtype=float),
                children=[
                    MovementItem(
                        x, np.arange(nx, dtype=float) * 10, children=[MeasurementItem(probe)]
                    ),
                ],
            )
        ]
    )
    return tree, y, x, probe


def start(scan: Scan) -> threading.Thread:
    thread = threading.Thread(target=scan.run, daemon=True)
    thread.start()
    return thread


def at_reading(probe: PositionProbe, n: int, action) -> None:
    """Call ``action`` just before the probe takes reading number ``n``."""

    def hook(readings: int) -> None:
        if readings == n:
            action()

    probe.before_reading = hook


def test_pause_and_resume_lose_and_duplicate_nothing_even_if_a_stage_is_moved_by_hand():
    tree, y, x, probe = raster()
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "pause", scan_tree=tree), extensions=[recorder], buffer_size=5)
    at_reading(probe, 9, scan.pause)
    thread = start(scan)

    assert scan.wait_for_state(ScanState.PAUSED, timeout=10)
    taken = probe.readings
    assert taken == 10  # the pause lands at the boundary after the point in progress
    assert recorder.rows_at_pause == [taken]  # everything taken was delivered before on_pause
    assert all(instrument.status for instrument in (y, x, probe))  # still connected
    y.position, x.position = 99.0, 99.0  # someone touches the stages during the pause
    assert not scan.wait_for_state(ScanState.COMPLETED, timeout=0.2)
    assert probe.readings == taken  # nothing measured while paused

    scan.resume()
    thread.join(10)

    assert scan.state is ScanState.COMPLETED
    df = recorder.frame("probe")
    expected = np.array([(j, i * 10) for j in range(4) for i in range(6)], dtype=float)
    assert df["point_index"].tolist() == list(range(24))
    np.testing.assert_array_equal(df[["y (mm)", "x (mm)"]].to_numpy(), expected)
    np.testing.assert_array_equal(df[["at_y (mm)", "at_x (mm)"]].to_numpy(), expected)
    assert recorder.calls == [
        "startup",
        "execute",
        "on_pause",
        "on_resume",
        "on_complete",
        "shutdown",
    ]


def test_pause_then_abort_delivers_what_was_taken():
    tree, _, _, probe = raster()
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "pause-abort", scan_tree=tree), extensions=[recorder])
    at_reading(probe, 3, scan.pause)
    thread = start(scan)
    assert scan.wait_for_state(ScanState.PAUSED, timeout=10)

    assert scan.abort() is True
    thread.join(10)

    assert scan.state is ScanState.ABORTED
    assert recorder.row_count() == 4
    assert recorder.calls[-2:] == ["on_abort", "shutdown"]


def test_abort_stops_at_the_next_point_and_keeps_the_data():
    tree, y, x, probe = raster()
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "abort", scan_tree=tree), extensions=[recorder])
    at_reading(probe, 7, scan.abort)

    assert scan.run() is ScanState.ABORTED

    df = recorder.frame("probe")
    assert len(df) == 8 == scan.points_done
    assert df["point_index"].tolist() == list(range(8))
    np.testing.assert_array_equal(df["at_x (mm)"], df["x (mm)"])
    assert not any(instrument.status for instrument in (y, x, probe))  # shut down
    assert "on_abort" in recorder.calls
    assert scan.progress == pytest.approx(8 / 24)


class AbortingStage(RecordingStage):
    """A stage that asks its scan to abort when it is moved to ``abort_at``."""

    def __init__(self, name: str, column: str) -> None:
        super().__init__(name, column)
        self.scan: Scan | None = None
        self.abort_at: float | None = None

    @property
    def position(self) -> float:
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        self.moves.append(value)
        self._position = value
        if value == self.abort_at and self.scan is not None:
            self.scan.abort()


def test_a_request_made_while_the_outer_stage_moves_is_served_before_the_next_line():
    y, x = AbortingStage("y stage", "y"), RecordingStage("x stage", "x")
    probe = PositionProbe("probe", [y, x])
    xs = np.arange(6, dtype=float)
    tree = ScanTree(
        [
            MovementItem(
                y,
                [0.0, 1.0, 2.0],
                children=[MovementItem(x, xs, children=[MeasurementItem(probe)])],
            )
        ]
    )
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "abort on a line's start", scan_tree=tree), extensions=[recorder])
    y.scan, y.abort_at = scan, 1.0

    assert scan.run() is ScanState.ABORTED

    assert y.moves == [0.0, 1.0]
    assert x.moves == xs.tolist()  # no point of the second line
    assert recorder.row_count() == 6


def test_a_stage_error_fails_the_scan_shuts_down_and_delivers_the_data():
    tree, y, x, probe = raster()
    x.fail_at = 30.0  # a limit switch the scan could not know about
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "stage error", scan_tree=tree), extensions=[recorder])

    assert scan.run() is ScanState.FAILED

    assert isinstance(scan.error, MovementLimitError)
    assert "limit switch hit at 30.0" in scan.traceback
    assert recorder.frame("probe")["x (mm)"].tolist() == [0.0, 10.0, 20.0]
    assert "on_error:MovementLimitError" in recorder.calls
    assert not any(instrument.status for instrument in (y, x, probe))


def test_a_measurement_error_fails_the_scan():
    tree, _, _, probe = raster()
    probe.fail_on_reading = 5
    recorder = Recorder()
    scan = Scan(ScanSettings("t", "meter error", scan_tree=tree), extensions=[recorder])

    assert scan.run() is ScanState.FAILED

    assert "lost its signal" in str(scan.error)
    assert recorder.row_count() == 5


def test_positions_outside_known_limits_are_refused_before_the_scan():
    stage = RecordingStage(limits=(0.0, 5.0))
    probe = PositionProbe("probe", [stage])
    tree = ScanTree([MovementItem(stage, [0.0, 6.0], children=[MeasurementItem(probe)])])
    scan = Scan(ScanSettings("t", "limits", scan_tree=tree))

    assert scan.run() is ScanState.FAILED
    assert "outside the limits [0, 5]" in str(scan.error)
    assert stage.moves == []


def test_malformed_readings_fail_with_a_clear_error_after_delivering_good_points():
    stage = RecordingStage()
    probe = PositionProbe("probe", [stage])
    original = probe.perform_measurement
    probe.perform_measurement = lambda: (  # type: ignore[method-assign]
        np.zeros((1, 3)) if probe.readings == 3 else original()
    )
    recorder = Recorder()
    tree = ScanTree([MovementItem(stage, np.arange(6.0), children=[MeasurementItem(probe)])])
    scan = Scan(ScanSettings("t", "shape", scan_tree=tree), extensions=[recorder], buffer_size=10)

    assert scan.run() is ScanState.FAILED
    assert isinstance(scan.error, MeasurementShapeError)
    assert "point 3" in str(scan.error)
    assert recorder.frame("probe")["point_index"].tolist() == [0, 1, 2]


def test_control_calls_that_make_no_sense_raise():
    tree, *_ = raster(1, 2)
    scan = Scan(ScanSettings("t", "states", scan_tree=tree))
    with pytest.raises(ScanStateError):
        scan.pause()  # not started
    assert scan.run() is ScanState.COMPLETED
    with pytest.raises(ScanStateError):
        scan.pause()
    with pytest.raises(ScanStateError):
        scan.run()
    assert scan.abort() is False


def test_abort_before_start_ends_the_scan_without_touching_instruments():
    tree, y, x, _ = raster()
    scan = Scan(ScanSettings("t", "queued abort", scan_tree=tree))
    assert scan.abort() is True
    assert scan.state is ScanState.ABORTED
    assert y.moves == []
    assert x.moves == []


def test_progress_grows_during_the_scan_and_listeners_see_every_transition():
    tree, _, _, probe = raster(2, 5)
    scan = Scan(ScanSettings("t", "progress", scan_tree=tree))
    seen: list[float] = []
    probe.before_reading = lambda _: seen.append(scan.progress)
    transitions: list[tuple[str, str]] = []
    scan.add_state_listener(lambda _, old, new: transitions.append((old.value, new.value)))

    scan.run()

    assert seen == [i / 10 for i in range(10)]
    assert scan.progress == 1.0
    assert transitions == [("queued", "running"), ("running", "completed")]


def test_item_settings_are_applied_at_startup_and_recorded():
    tree, _, _, probe = raster(1, 2)
    tree.items[0].children[0].children[0].settings = {"gain": 5.0}
    scan = Scan(ScanSettings("t", "settings", scan_tree=tree))
    scan.run()
    assert probe.get_setting("gain") == 5.0
    assert scan.instrument_snapshot["probe"]["settings"] == {"gain": 5.0}


def test_unknown_item_settings_are_refused_before_the_scan():
    tree, _, x, _ = raster(1, 2)
    tree.items[0].children[0].children[0].settings = {"gian": 5.0}
    scan = Scan(ScanSettings("t", "settings", scan_tree=tree))
    assert scan.run() is ScanState.FAILED
    assert "unknown setting 'gian'" in str(scan.error)
    assert x.moves == []
