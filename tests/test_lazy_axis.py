"""An evenly spaced axis is three numbers: bit for bit np.linspace, never held whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine_doubles import NullMovement, PositionProbe, Recorder, RecordingStage
from pybirch.instruments import Measurement
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.scan import (
    DataBatch,
    Linspace,
    MeasurementItem,
    MovementItem,
    Scan,
    ScanDefinitionError,
    ScanExtension,
    ScanSettings,
    ScanState,
    ScanTree,
)

finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)
ends = st.one_of(finite, st.floats(-1e3, 1e3), st.sampled_from([0.0, -0.0, 5e-324, 1.0]))


def as_bytes(values: object) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


@hypothesis_settings(max_examples=300, deadline=None)
@given(start=ends, stop=ends, count=st.integers(0, 3000), data=st.data())
def test_a_lazy_axis_is_np_linspace_bit_for_bit(start, stop, count, data):
    expected = np.linspace(start, stop, count)
    axis = Linspace(start, stop, count)

    assert len(axis) == count
    assert as_bytes(axis) == expected.tobytes()
    assert as_bytes(np.concatenate([*axis.blocks(7), np.empty(0)])) == expected.tobytes()
    assert as_bytes(list(axis)) == expected.tobytes()
    assert as_bytes(axis.reversed()) == expected[::-1].tobytes()
    low = data.draw(st.integers(-count - 2, count + 2))
    high = data.draw(st.integers(-count - 2, count + 2))
    assert as_bytes(axis[low:high]) == expected[low:high].tobytes()
    assert as_bytes(axis.reversed()[low:high]) == expected[::-1][low:high].tobytes()
    if count:
        index = data.draw(st.integers(-count, count - 1))
        assert as_bytes([axis[index]]) == expected[index : index + 1 or None].tobytes()


def test_a_lazy_axis_refuses_what_is_not_an_axis():
    with pytest.raises(ScanDefinitionError):
        Linspace(0.0, 1.0, -1)
    with pytest.raises(ScanDefinitionError):
        Linspace(0.0, 1.0, 2.5)
    with pytest.raises(ScanDefinitionError):
        Linspace("zero", 1.0, 2)
    with pytest.raises(IndexError):
        Linspace(0.0, 1.0, 3)[3]
    assert len(Linspace(0.0, 1.0, 1e3)) == 1000


def test_a_lazy_axis_stays_lazy_in_the_tree_and_its_description():
    stage, meter = FakeStage("x", axis="x"), FakeLockin("m")
    stage.limits = None
    axis = Linspace(-1.0, 1.0, 10**9)
    item = MovementItem(stage, axis, children=[MeasurementItem(meter)])
    tree = ScanTree([item])
    tree.validate()

    assert item.positions is axis
    assert tree.total_points() == 10**9
    described = tree.to_dict(arrays=True)["items"][0]["positions"]
    assert described == {"start": -1.0, "stop": 1.0, "count": 10**9}
    rebuilt = ScanTree.from_dict(tree.to_dict()).items[0].positions
    assert rebuilt == axis


def test_an_np_linspace_array_is_described_as_the_same_three_numbers():
    stage, meter = RecordingStage(), PositionProbe("m", [])
    array = MovementItem(stage, np.linspace(0.0, 2.0, 1001), children=[MeasurementItem(meter)])
    lazy = MovementItem(stage, Linspace(0.0, 2.0, 1001), children=[MeasurementItem(meter)])

    assert ScanTree([array]).to_dict() == ScanTree([lazy]).to_dict()


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        (Linspace(0.0, 10.0, 10**7), "outside the limits"),
        (Linspace(0.0, float("inf"), 3), "finite"),
        (Linspace(-1.7e308, 1.7e308, 5), "finite"),
        (Linspace(0.0, 1.0, 0), "no positions"),
    ],
)
def test_a_lazy_axis_is_validated_like_an_array(axis, message):
    stage, meter = RecordingStage(limits=(0.0, 5.0)), PositionProbe("m", [])
    tree = ScanTree([MovementItem(stage, axis, children=[MeasurementItem(meter)])])

    with pytest.raises(ScanDefinitionError, match=message):
        tree.validate()


def run(tree: ScanTree, extension: ScanExtension, buffer_size: int = 50) -> None:
    scan = Scan(ScanSettings("p", "s", scan_tree=tree), extensions=[extension])
    scan.buffer_size = buffer_size
    assert scan.run() is ScanState.COMPLETED, scan.error


def raster(outer: object, inner: object) -> tuple[list[float], list[float], Recorder]:
    slow, fast = RecordingStage("slow", "y"), RecordingStage("fast", "x")
    probe, recorder = PositionProbe("probe", [slow, fast]), Recorder()
    line = MovementItem(fast, inner, snake=True, children=[MeasurementItem(probe)])
    run(ScanTree([MovementItem(slow, outer, children=[line])]), recorder)
    return slow.moves, fast.moves, recorder


def test_a_snaking_raster_of_lazy_axes_moves_and_records_as_one_of_arrays():
    lazy = raster(Linspace(0.0, 1.0, 3), Linspace(-2.0, 2.0, 5000))
    eager = raster(np.linspace(0.0, 1.0, 3), np.linspace(-2.0, 2.0, 5000))

    assert lazy[0] == eager[0]
    assert as_bytes(lazy[1]) == as_bytes(eager[1])
    lazy_rows = lazy[2].frame("probe")
    eager_rows = eager[2].frame("probe")
    assert lazy_rows.drop(columns="timestamp").equals(eager_rows.drop(columns="timestamp"))
    # Every row's recorded positions are where the stages were when it was read.
    assert (lazy_rows["x (mm)"] == lazy_rows["at_x (mm)"]).all()


class Constant(Measurement):
    """One preallocated reading."""

    def __init__(self) -> None:
        super().__init__("constant")
        self.data_columns = np.array(["v"])
        self.data_units = np.array(["V"])
        self._row = np.array([[1.0]])

    def perform_measurement(self) -> np.ndarray:
        return self._row


class Counter(ScanExtension):
    """Counts points and checks the last position of each batch, keeping nothing."""

    def __init__(self) -> None:
        self.points = 0
        self.last = float("nan")

    def save_batch(self, batch: DataBatch) -> None:
        self.points += batch.point_count
        self.last = float(batch.point_positions["position"][-1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_scan_of_millions_of_lazy_positions_never_holds_them_all():
    count = 3 * 10**6
    counter = Counter()
    tree = ScanTree(
        [
            MovementItem(
                NullMovement(), Linspace(0.0, 1.0, count), children=[MeasurementItem(Constant())]
            )
        ]
    )
    tracemalloc.start()
    try:
        run(tree, counter, buffer_size=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert counter.points == count
    assert counter.last == 1.0
    # The whole axis would be 24 MB (and its list of floats several times that).
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("count", [5, 6, 101, 10**6 + 3])
def test_checking_a_lazy_axis_by_its_ends_agrees_with_checking_every_position(count):
    from pybirch.scan.tree import position_blocks

    for start, stop in [(0.0, 10.0), (10.0, -3.5), (-1.7e308, 1.7e308), (1e-310, 3e-310)]:
        lazy = Linspace(start, stop, count)
        every = np.linspace(start, stop, count)
        seen = np.concatenate([block for _, block in position_blocks(lazy)])
        finite = np.isfinite(every)
        assert np.isfinite(seen).all() == finite.all()
        if finite.all():
            assert (seen.min(), seen.max()) == (every.min(), every.max())
