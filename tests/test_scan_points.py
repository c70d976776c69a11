"""Exact point counts, order and positions for 1-D, 2-D, 3-D and random scan trees."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_doubles import PositionProbe, Recorder, RecordingStage
from pybirch.instruments import Measurement
from pybirch.scan import (
    MeasurementItem,
    MovementItem,
    Scan,
    ScanExtension,
    ScanSettings,
    ScanState,
    ScanTree,
)


def run(tree: ScanTree, **kwargs) -> tuple[Scan, Recorder]:
    recorder = Recorder()
    scan = Scan(ScanSettings("tests", "points", scan_tree=tree), extensions=[recorder], **kwargs)
    assert scan.run() is ScanState.COMPLETED, scan.traceback
    return scan, recorder


def grid(*axes: np.ndarray) -> np.ndarray:
    """Every combination of axis values, last axis fastest (nested-loop order)."""
    return np.array(list(itertools.product(*axes)), dtype=float)


def test_1d_scan_takes_every_position_once_in_order():
    stage = RecordingStage()
    probe = PositionProbe("probe", [stage])
    positions = np.linspace(-1.0, 1.0, 11)
    tree = ScanTree([MovementItem(stage, positions, children=[MeasurementItem(probe)])])

    scan, recorder = run(tree, buffer_size=4)

    df = recorder.frame("probe")
    assert list(df.columns) == ["at_x (mm)", "x (mm)", "point_index", "timestamp"]
    assert len(df) == 11
    np.testing.assert_array_equal(df["x (mm)"], positions)
    np.testing.assert_array_equal(df["at_x (mm)"], positions)  # taken where commanded
    np.testing.assert_array_equal(df["point_index"], np.arange(11))
    assert (np.diff(df["timestamp"]) >= 0).all()
    assert scan.points_done == scan.total_points == 11
    assert scan.progress == 1.0
    assert len(recorder.batches["probe"]) == 3  # 4 + 4 + 3 rows


def test_2d_grid_gives_n_times_m_points_first_and_last_included():
    y, x = RecordingStage("y stage", "y"), RecordingStage("x stage", "x")
    probe = PositionProbe("probe", [y, x])
    ys, xs = np.linspace(0, 2, 7), np.linspace(10, 20, 5)
    tree = ScanTree(
        [MovementItem(y, ys, children=[MovementItem(x, xs, children=[MeasurementItem(probe)])])]
    )

    _, recorder = run(tree, buffer_size=6)

    df = recorder.frame("probe")
    expected = grid(ys, xs)
    assert len(df) == 35
    np.testing.assert_array_equal(df[["y (mm)", "x (mm)"]].to_numpy(), expected)
    np.testing.assert_array_equal(df[["at_y (mm)", "at_x (mm)"]].to_numpy(), expected)
    assert df["point_index"].tolist() == list(range(35))


def test_3d_scan_and_a_measurement_at_every_level():
    z, y, x = (RecordingStage(f"{c} stage", c) for c in "zyx")
    outer_probe = PositionProbe("outer", [z])
    inner_probe = PositionProbe("inner", [z, y, x])
    zs, ys, xs = np.arange(3.0), np.arange(4.0) * 10, np.arange(5.0) * 100
    tree = ScanTree(
        [
            MovementItem(
                z,
                zs,
                children=[
                    MeasurementItem(outer_probe),
                    MovementItem(
                        y,
                        ys,
                        children=[
                            MovementItem(x, xs, children=[MeasurementItem(inner_probe)]),
                        ],
                    ),
                ],
            )
        ]
    )

    _, recorder = run(tree)

    inner = recorder.frame("inner")
    commanded = inner[["z (mm)", "y (mm)", "x (mm)"]].to_numpy()
    np.testing.assert_array_equal(commanded, grid(zs, ys, xs))
    np.testing.assert_array_equal(
        inner[["at_z (mm)", "at_y (mm)", "at_x (mm)"]].to_numpy(), grid(zs, ys, xs)
    )
    outer = recorder.frame("outer")
    np.testing.assert_array_equal(outer["z (mm)"], zs)
    np.testing.assert_array_equal(outer["at_z (mm)"], zs)


def test_snake_reverses_the_inner_axis_on_every_other_line():
    y, x = RecordingStage("y stage", "y"), RecordingStage("x stage", "x")
    probe = PositionProbe("probe", [y, x])
    xs = np.array([0.0, 1.0, 2.0])
    tree = ScanTree(
        [
            MovementItem(
                y,
                [0.0, 1.0, 2.0],
                children=[
                    MovementItem(x, xs, snake=True, children=[MeasurementItem(probe)]),
                ],
            )
        ]
    )

    _, recorder = run(tree)

    df = recorder.frame("probe")
    assert df["x (mm)"].tolist() == [0, 1, 2, 2, 1, 0, 0, 1, 2]
    np.testing.assert_array_equal(df["at_x (mm)"], df["x (mm)"])
    assert x.moves == [0, 1, 2, 2, 1, 0, 0, 1, 2]


class WatchedStage(RecordingStage):
    """A stage whose class sees every assignment to it, as a proxy or a logger would."""

    def __init__(self, name: str, column: str) -> None:
        super().__init__(name, column)
        self.assigned: list[float] = []

    def __setattr__(self, name: str, value) -> None:
        if name == "position":
            self.assigned.append(value)
        super().__setattr__(name, value)


class StepStage(RecordingStage):
    """A stage whose position is a descriptor of its own, not a property."""

    class _Position:
        def __get__(self, stage, owner=None):
            return 0.0 if stage is None else stage._position

        def __set__(self, stage, value) -> None:
            stage.moves.append(value)
            stage._position = value

    position = _Position()  # type: ignore[assignment]


def test_every_move_is_an_assignment_the_stage_class_sees():
    # The engine calls a plain property's setter directly; a class with its own
    # __setattr__ or position descriptor still gets the assignment, on every point.
    y, x = StepStage("y stage", "y"), WatchedStage("x stage", "x")
    probe = PositionProbe("probe", [y, x])
    tree = ScanTree(
        [
            MovementItem(
                y,
                [0.0, 1.0],
                children=[MovementItem(x, [5.0, 6.0, 7.0], children=[MeasurementItem(probe)])],
            )
        ]
    )

    _, recorder = run(tree)

    assert x.assigned == x.moves == [5.0, 6.0, 7.0] * 2
    assert y.moves == [0.0, 1.0]
    np.testing.assert_array_equal(recorder.frame("probe")["at_x (mm)"], [5.0, 6.0, 7.0] * 2)


def test_a_point_with_many_rows_keeps_its_index_and_position_on_every_row():
    stage = RecordingStage()
    spectrum = PositionProbe("spectrum", [stage], rows=5)
    tree = ScanTree([MovementItem(stage, [1.0, 2.0, 3.0], children=[MeasurementItem(spectrum)])])

    _, recorder = run(tree, buffer_size=7)

    df = recorder.frame("spectrum")
    assert len(df) == 15
    assert df["point_index"].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert df["x (mm)"].tolist() == [1.0] * 5 + [2.0] * 5 + [3.0] * 5


def test_a_measurement_at_the_top_level_is_taken_once():
    probe = PositionProbe("count", [])
    _, recorder = run(ScanTree([MeasurementItem(probe)]))
    df = recorder.frame("count")
    assert list(df.columns) == ["value (mm)", "point_index", "timestamp"]
    assert len(df) == 1


# -- random tree shapes --------------------------------------------------------------------


@st.composite
def trees(draw, depth: int = 0, prefix: str = "m"):
    """A random tree spec: ("move", n_positions, snake, children) or ("measure",)."""
    children = []
    for i in range(draw(st.integers(1, 3))):
        if depth < 3 and draw(st.booleans()):
            children.append(
                (
                    "move",
                    draw(st.integers(1, 4)),
                    draw(st.booleans()),
                    draw(trees(depth + 1, f"{prefix}{i}")),
                )
            )
        else:
            children.append(("measure",))
    return children


def build(spec, stages: list[RecordingStage], probes: list[PositionProbe], ancestors=()):
    """Turn a spec into items; returns the items and each probe's expected positions."""
    items, expected = [], {}
    for entry in spec:
        if entry[0] == "measure":
            probe = PositionProbe(f"probe{len(probes)}", list(ancestors))
            probes.append(probe)
            items.append(MeasurementItem(probe))
            expected[probe.name] = [()]
        else:
            _, count, snake, children = entry
            stage = RecordingStage(f"stage{len(stages)}", f"s{len(stages)}")
            stages.append(stage)
            child_items, child_expected = build(children, stages, probes, (*ancestors, stage))
            positions = np.arange(count, dtype=float) + 10 * len(stages)
            items.append(MovementItem(stage, positions, snake=snake, children=child_items))
            for name, rows in child_expected.items():
                expected[name] = (positions, snake, rows)
    return items, expected


def expand(description, passes: dict[int, int], key: int = 0) -> list[tuple[float, ...]]:
    """The positions a measurement sees, in nested-loop order with snaking."""
    if description == [()]:
        return [()]
    positions, snake, inner = description
    return [(p, *rest) for p, rest in _loop(positions, snake, inner, passes, key)]


def _loop(positions, snake, inner, passes, key):
    # A snaking axis reverses on every other pass of its parent.
    order = positions
    count = passes.setdefault(key, 0)
    passes[key] = count + 1
    if snake and count % 2:
        order = positions[::-1]
    for p in order:
        for rest in expand(inner, passes, key + 1):
            yield p, rest


@settings(max_examples=60, deadline=None)
@given(spec=trees())
def test_random_trees_take_every_point_exactly_once_where_commanded(spec):
    stages: list[RecordingStage] = []
    probes: list[PositionProbe] = []
    items, expected = build(spec, stages, probes)
    tree = ScanTree(items)

    scan, recorder = run(tree, buffer_size=3)

    assert scan.points_done == tree.total_points()
    for probe in probes:
        df = recorder.frame(probe.name)
        plan = next(p for p in tree.measurements() if p.name == probe.name)
        assert len(df) == plan.total_points
        assert df["point_index"].tolist() == list(range(plan.total_points))
        commanded = df[plan.position_columns].to_numpy()
        measured = df[probe.columns()].to_numpy() if plan.position_columns else commanded
        np.testing.assert_array_equal(measured, commanded)
        # Within one measurement the commanded positions follow nested-loop order.
        if plan.position_columns:
            reference = expand(expected[probe.name], {})
            np.testing.assert_array_equal(commanded, np.array(reference))


@pytest.mark.parametrize("positions", [[], [0.0, float("nan")], [0.0, float("inf")]])
def test_bad_positions_fail_before_anything_moves(positions):
    stage = RecordingStage()
    probe = PositionProbe("probe", [stage])
    tree = ScanTree([MovementItem(stage, positions, children=[MeasurementItem(probe)])])
    scan = Scan(ScanSettings("tests", "bad", scan_tree=tree))
    assert scan.run() is ScanState.FAILED
    assert type(scan.error).__name__ == "ScanDefinitionError"
    assert stage.moves == []


def test_a_position_column_never_hides_a_data_column_of_the_same_name():
    stage = RecordingStage("Source", column="x")
    probe = PositionProbe("probe", [stage])
    probe.data_columns = np.array(["x"])  # the reading is also called "x (mm)"
    tree = ScanTree([MovementItem(stage, [1.0, 2.0], children=[MeasurementItem(probe)])])

    _, recorder = run(tree)

    df = recorder.frame("probe")
    assert list(df.columns) == ["x (mm)", "Source x (mm)", "point_index", "timestamp"]
    assert df["Source x (mm)"].tolist() == [1.0, 2.0]
    assert df["x (mm)"].tolist() == [1.0, 2.0]


class _Row(Measurement):
    """A reading that costs nothing: only the engine's own memory is measured."""

    def __init__(self) -> None:
        super().__init__("row")
        self.data_columns = np.array(["v"])
        self.data_units = np.array(["V"])
        self._row = np.array([[1.0]])

    def perform_measurement(self) -> np.ndarray:
        return self._row


class _Count(ScanExtension):
    def __init__(self) -> None:
        self.points = 0

    def save_batch(self, batch) -> None:
        self.points += batch.point_count


def _peak_memory_of_scan(points: int, snake_lines: int = 1) -> int:
    """Peak bytes Python allocated while a scan of ``points`` points ran (tree built before)."""
    stage, outer = RecordingStage("x", "x"), RecordingStage("y", "y")
    stage.moves = _Forgetful()
    outer.moves = _Forgetful()
    counter = _Count()
    inner = MovementItem(stage, np.linspace(0, 1, points // snake_lines), snake=True)
    inner.children = [MeasurementItem(_Row())]
    top = [MovementItem(outer, np.arange(snake_lines), children=[inner])]
    scan = Scan(ScanSettings("p", "memory", scan_tree=ScanTree(top)), extensions=[counter])
    tracemalloc.start()
    try:
        assert scan.run() is ScanState.COMPLETED
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counter.points == points
    return peak


class _Forgetful(list):
    """A move log that keeps nothing, so only the engine's memory grows."""

    def append(self, value) -> None:
        pass


def test_a_longer_scan_needs_no_more_engine_memory():
    # Positions are the tree's own array; the engine keeps no list of them (no forward
    # and reversed copies): eight times the points, the same peak within a small margin.
    short = _peak_memory_of_scan(50_000, snake_lines=2)
    long = _peak_memory_of_scan(400_000, snake_lines=2)
    assert long < short + 2_000_000, (short, long)


class ListReadout(Measurement):
    """A driver that returns nested lists, not an array (the engine converts them)."""

    def __init__(self) -> None:
        super().__init__("list meter")
        self.data_columns = np.array(["a", "b"])
        self.data_units = np.array(["V", "V"])
        self.count = 0

    def perform_measurement(self) -> np.ndarray:
        self.count += 1
        return [[float(self.count), -float(self.count)]]  # type: ignore[return-value]


def test_a_driver_returning_lists_is_read_at_every_point_of_a_line():
    stage, meter = RecordingStage(), ListReadout()
    tree = ScanTree([MovementItem(stage, np.arange(5.0), children=[MeasurementItem(meter)])])

    _, recorder = run(tree, buffer_size=3)

    df = recorder.frame("list meter")
    np.testing.assert_array_equal(df["a (V)"], [1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(df["b (V)"], [-1.0, -2.0, -3.0, -4.0, -5.0])
