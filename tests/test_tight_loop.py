"""The engine's tight loop, compiled and in Python: the same points, taken the same way."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

from engine_doubles import PositionProbe, Recorder, RecordingStage
from pybirch.scan import (
    MeasurementItem,
    MovementItem,
    Scan,
    ScanSettings,
    ScanState,
    ScanTree,
    executor,
)
from pybirch.scan.tight_loop import compiled_run_line, python_run_line

LOOPS = [
    pytest.param(python_run_line, id="python"),
    pytest.param(compiled_run_line, id="compiled"),
]


@pytest.fixture(params=LOOPS)
def run_line(request: pytest.FixtureRequest):
    """Each implementation of the loop; the compiled one is required when ``CI`` is set."""
    return required(request.param)


def required(loop):
    """The loop, or a skip where it was not compiled (a failure when ``CI`` is set)."""
    if loop is None:
        if os.environ.get("CI"):
            pytest.fail("the compiled tight loop was not built (pip install -e . compiles it)")
        pytest.skip("the compiled tight loop is not built here")
    return loop


class Line:
    """A loop's arguments and what it left behind."""

    def __init__(self, readings: list[object], due: float = math.inf) -> None:
        self.readings = iter(readings)
        self.moves: list[float] = []
        self.converted: list[object] = []
        self.recorded: list[tuple[bytes, float, float]] = []
        self.chunks: list[bytes] = []
        self.timestamps: list[float] = []
        self.due = [due]

    def to_bytes(self, result: object) -> bytes:
        self.converted.append(result)
        return np.asarray(result, dtype=np.float64).reshape(1, -1).tobytes()

    def record(self, data: bytes, t: float, position: float) -> None:
        # The journal gets each point before the buffer does.
        assert len(self.chunks) == len(self.recorded)
        self.recorded.append((data, t, position))

    def run(self, run_line, positions: list[float], start: int = 0, journal: bool = True) -> int:
        return run_line(
            positions,
            start,
            self.moves.append,
            lambda: next(self.readings),
            self.to_bytes,
            time.time,
            self.record if journal else None,
            (1, 3),
            self.chunks,
            self.timestamps,
            self.due,
        )


def row(*values: float) -> np.ndarray:
    return np.array([values], dtype=np.float64)


def test_plain_readings_are_copied_as_they_are(run_line) -> None:
    line = Line([row(1, 2, 3), row(4, 5, 6)])
    before = time.time()
    assert line.run(run_line, [0.5, 1.5]) == 2
    assert line.moves == [0.5, 1.5]
    assert line.chunks == [row(1, 2, 3).tobytes(), row(4, 5, 6).tobytes()]
    assert line.converted == []
    assert before <= line.timestamps[0] <= line.timestamps[1] <= time.time()
    assert [r[2] for r in line.recorded] == [0.5, 1.5]
    assert [r[1] for r in line.recorded] == line.timestamps


def test_other_readings_go_through_the_validating_conversion(run_line) -> None:
    transposed = np.arange(3.0).reshape(3, 1)
    readings = [
        [1.0, 2.0, 3.0],  # a list
        np.array([[1, 2, 3]]),  # integers
        np.array([[1, 2, 3]], dtype=np.float32),
        np.array([[1, 2, 3]], dtype=">f8"),  # float64, not native byte order
        transposed,  # the same values, another shape
        np.ma.masked_array(row(1, 2, 3)),  # a subclass
    ]
    line = Line(list(readings))
    assert line.run(run_line, [0.0] * len(readings)) == len(readings)
    assert len(line.converted) == len(readings)
    assert all(a is b for a, b in zip(line.converted, readings, strict=True))


def test_a_reading_that_is_a_view_is_stored_in_row_order(run_line) -> None:
    wide = np.arange(6.0).reshape(2, 3)
    view = wide[:, ::-1][:1]  # float64 of the right shape, not C-ordered
    line = Line([view])
    assert line.run(run_line, [0.0]) == 1
    assert line.chunks == [row(2, 1, 0).tobytes()]


def test_an_object_posing_as_an_array_is_not_trusted(run_line) -> None:
    class Impostor:
        dtype = np.dtype(np.float64)
        shape = (1, 3)

        def tobytes(self) -> bytes:
            return b"not a reading"

    impostor = Impostor()
    line = Line([impostor])
    with pytest.raises(TypeError):  # np.asarray of it fails in the test's conversion
        line.run(run_line, [0.0])
    assert line.converted == [impostor]
    assert line.chunks == []


def test_the_loop_stops_after_the_point_that_reaches_the_due_time(run_line) -> None:
    line = Line([row(1, 2, 3)] * 4, due=-math.inf)
    assert line.run(run_line, [0.0, 1.0, 2.0, 3.0]) == 1
    line.due[0] = math.inf
    assert line.run(run_line, [0.0, 1.0, 2.0, 3.0], start=1) == 4
    assert line.moves == [0.0, 1.0, 2.0, 3.0]
    assert len(line.chunks) == len(line.timestamps) == 4


def test_without_a_journal_nothing_is_recorded(run_line) -> None:
    line = Line([row(1, 2, 3)])
    assert line.run(run_line, [0.0], journal=False) == 1
    assert line.recorded == []
    assert len(line.chunks) == 1


def test_an_instrument_error_leaves_the_points_before_it(run_line) -> None:
    def readings():
        yield row(1, 2, 3)
        raise ConnectionError("lock-in stopped answering")

    line = Line([])
    line.readings = readings()
    with pytest.raises(ConnectionError, match="stopped answering"):
        line.run(run_line, [0.0, 1.0, 2.0])
    assert line.chunks == [row(1, 2, 3).tobytes()]
    assert len(line.timestamps) == len(line.recorded) == 1


def test_the_compiled_loop_refuses_bad_arguments() -> None:
    compiled = required(compiled_run_line)
    line = Line([row(1, 2, 3)])
    with pytest.raises(TypeError):
        compiled((0.0,), 0, print, print, print, time.time, None, (1, 3), [], [], line.due)


# -- whole scans, on each loop -------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_a_snaking_map_is_exact_on_each_loop(loop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "run_line", required(loop))
    x, y = RecordingStage("x", "x"), RecordingStage("y", "y")
    xs, ys = np.linspace(0, 1, 7), np.linspace(-1, 1, 5)
    tree = ScanTree(
        [
            MovementItem(
                y,
                ys,
                children=[
                    MovementItem(
                        x,
                        xs,
                        snake=True,
                        children=[MeasurementItem(PositionProbe("meter", [x, y]))],
                    )
                ],
            )
        ]
    )
    rows = Recorder()
    scan = Scan(ScanSettings("map", "engine", scan_tree=tree), extensions=[rows], buffer_size=4)
    assert scan.run() is ScanState.COMPLETED
    frame = rows.frame("meter")
    expected = [(xv, yv) for i, yv in enumerate(ys) for xv in (xs if i % 2 == 0 else xs[::-1])]
    assert list(zip(frame["at_x (mm)"], frame["at_y (mm)"], strict=True)) == expected
