"""Extensions: every row exactly once, in order, in batches, one call at a time."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine_doubles import Exploding, PositionProbe, Recorder, RecordingStage
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.scan import (
    ExtensionError,
    MeasurementItem,
    MovementItem,
    Scan,
    ScanExtension,
    ScanSettings,
    ScanState,
    ScanTree,
)
from pybirch.scan.dispatcher import ExtensionDispatcher


def line(n: int = 50, delay: float = 0.0):
    stage = RecordingStage()
    probe = PositionProbe("probe", [stage])
    probe.delay = delay
    tree = ScanTree(
        [MovementItem(stage, np.arange(n, dtype=float), children=[MeasurementItem(probe)])]
    )
    return tree, stage, probe


def test_every_row_reaches_every_extension_once_in_order_in_batches():
    tree, _, _ = line(50)
    first, second = Recorder(), Recorder()
    second.batch_delay = 0.002  # a slow extension must not reorder or drop anything
    scan = Scan(ScanSettings("t", "ext", scan_tree=tree), extensions=[first, second], buffer_size=7)

    assert scan.run() is ScanState.COMPLETED

    for recorder in (first, second):
        sizes = [len(df) for df in recorder.batches["probe"]]
        assert sizes == [7] * 7 + [1]
        assert recorder.frame("probe")["point_index"].tolist() == list(range(50))
        assert recorder.overlaps == 0
        assert recorder.calls == ["startup", "execute", "on_complete", "shutdown"]


def test_save_data_is_never_called_concurrently_with_parallel_measurements():
    stage = RecordingStage()
    probes = [PositionProbe(f"probe{i}", [stage], adapter=f"GPIB0::{i}::INSTR") for i in range(3)]
    tree = ScanTree(
        [MovementItem(stage, np.arange(40.0), children=[MeasurementItem(p) for p in probes])]
    )
    recorder = Recorder()
    recorder.batch_delay = 0.001
    scan = Scan(ScanSettings("t", "ext", scan_tree=tree), extensions=[recorder], buffer_size=3)

    assert scan.run() is ScanState.COMPLETED
    assert recorder.overlaps == 0
    for probe in probes:
        assert recorder.frame(probe.name)["point_index"].tolist() == list(range(40))


def test_slow_points_are_flushed_by_time():
    tree, _, _ = line(12, delay=0.01)
    recorder = Recorder()
    scan = Scan(
        ScanSettings("t", "slow", scan_tree=tree),
        extensions=[recorder],
        buffer_size=1000,
        flush_interval=0.03,
    )
    scan.run()
    assert len(recorder.batches["probe"]) > 1
    assert recorder.frame("probe")["point_index"].tolist() == list(range(12))


class Stuck(ScanExtension):
    """Holds the first batch until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.batches = 0

    def save_batch(self, batch) -> None:
        self.release.wait(10)
        self.batches += 1


def test_a_slow_extension_slows_the_scan_instead_of_piling_up_batches(monkeypatch):
    bound = 3
    original = ExtensionDispatcher.__init__
    monkeypatch.setattr(
        ExtensionDispatcher,
        "__init__",
        lambda self, *args: original(self, *args, max_pending_batches=bound),
    )
    tree, _, probe = line(20)
    stuck = Stuck()
    scan = Scan(ScanSettings("t", "bound", scan_tree=tree), extensions=[stuck], buffer_size=1)

    thread = threading.Thread(target=scan.run, daemon=True)
    thread.start()
    thread.join(0.5)
    # one batch in the extension's hands, three waiting, the scan held up at the fifth
    assert probe.readings == 1 + bound + 1
    stuck.release.set()
    thread.join(10)

    assert scan.state is ScanState.COMPLETED
    assert stuck.batches == 20


def test_a_failing_critical_extension_fails_the_scan_and_the_others_keep_every_row():
    tree, _, _ = line(30, delay=0.01)  # slow points: the failure stops the scan early
    storage = Exploding("save_data", critical=True)
    recorder = Recorder()
    scan = Scan(
        ScanSettings("t", "ext", scan_tree=tree), extensions=[storage, recorder], buffer_size=5
    )

    assert scan.run() is ScanState.FAILED

    assert isinstance(scan.error, ExtensionError)
    assert scan.error.extension == "Exploding"
    assert scan.error.hook == "save_data"
    assert isinstance(scan.error.__cause__, OSError)
    assert storage.batches == 1  # detached after its failure
    assert recorder.frame("probe")["point_index"].tolist() == list(range(scan.points_done))
    assert scan.points_done < 30
    assert "on_error:ExtensionError" in recorder.calls


def test_a_failing_non_critical_extension_is_detached_and_the_scan_goes_on(caplog):
    tree, _, _ = line(30)
    plot = Exploding("save_data", critical=False)
    recorder = Recorder()
    scan = Scan(
        ScanSettings("t", "ext", scan_tree=tree), extensions=[plot, recorder], buffer_size=5
    )

    assert scan.run() is ScanState.COMPLETED

    assert plot.batches == 1
    assert [e.extension for e in scan.extension_errors] == ["Exploding"]
    assert recorder.row_count() == 30
    assert "extension Exploding failed in save_data" in caplog.text


def test_an_extension_failing_at_startup_stops_the_scan_before_any_move():
    tree, stage, _ = line(5)
    scan = Scan(
        ScanSettings("t", "ext", scan_tree=tree), extensions=[Exploding("startup", critical=True)]
    )
    assert scan.run() is ScanState.FAILED
    assert "cannot open the data file" in str(scan.error)
    assert stage.moves == []


def test_sibling_measurements_on_different_adapters_run_side_by_side():
    stage = RecordingStage()
    first = PositionProbe("first", [stage], adapter="GPIB0::1::INSTR")
    second = PositionProbe("second", [stage], adapter="GPIB0::2::INSTR")
    # Each reading waits for the other: they only complete if read at the same time.
    barrier = threading.Barrier(2, timeout=5)
    first.before_reading = second.before_reading = lambda _: barrier.wait()
    tree = ScanTree(
        [
            MovementItem(
                stage, np.arange(5.0), children=[MeasurementItem(first), MeasurementItem(second)]
            )
        ]
    )

    scan = Scan(ScanSettings("t", "parallel", scan_tree=tree))
    assert scan.run() is ScanState.COMPLETED, scan.traceback


def test_sibling_measurements_sharing_an_adapter_never_overlap():
    stage = RecordingStage()
    source = PositionProbe("source", [stage], adapter="GPIB0::24::INSTR")
    meter = PositionProbe("meter", [stage], adapter="GPIB0::24::INSTR")
    source.delay = meter.delay = 0.002
    busy = threading.Lock()
    overlaps = []

    def start(_: int) -> None:
        if not busy.acquire(blocking=False):
            overlaps.append(True)

    def end(_: int) -> None:
        if not overlaps:
            busy.release()

    source.before_reading = meter.before_reading = start
    source.after_reading = meter.after_reading = end
    other = PositionProbe("other", [stage], adapter="GPIB0::3::INSTR")
    tree = ScanTree(
        [
            MovementItem(
                stage,
                np.arange(20.0),
                children=[MeasurementItem(source), MeasurementItem(meter), MeasurementItem(other)],
            )
        ]
    )

    scan = Scan(ScanSettings("t", "shared", scan_tree=tree))
    assert scan.run() is ScanState.COMPLETED
    assert overlaps == []
    assert source.readings == meter.readings == other.readings == 20


class CsvLikeExtension(ScanExtension):
    """An extension that can be saved with the scan settings."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def config(self) -> dict:
        return {"directory": self.directory}


def test_scan_settings_round_trip_through_json_with_positions_and_extensions():
    from pybirch.instruments.fake import FakeMovementInstrument

    class JsonStage(FakeMovementInstrument):
        def __init__(self, name: str = "stage") -> None:
            super().__init__(name)
            self.position_column = "x"
            self.position_units = "mm"
            self.limits = (-5.0, 5.0)

    y, x = JsonStage("y stage"), JsonStage("x stage")
    y.position_column = "y"
    probe = PositionProbe  # not rebuildable without its stages: use a fake meter below
    from pybirch.instruments.fake import FakeMeasurementInstrument

    class JsonMeter(FakeMeasurementInstrument):
        def __init__(self, name: str = "meter") -> None:
            super().__init__(name)
            self.data_columns = np.array(["v"])
            self.data_units = np.array(["V"])
            self._define_settings({"range": 10.0})

        def _perform_measurement_impl(self) -> np.ndarray:
            return np.array([[1.0]])

    meter = JsonMeter()
    positions = np.array([0.1, 1 / 3, -2.718281828459045, 4.999999999999999])
    from pybirch.scan import ScanSettings as Settings

    settings = Settings(
        project_name="Graphene",
        scan_name="map",
        scan_type="2D Scan",
        job_type="Raman",
        scan_tree=ScanTree(
            [
                MovementItem(
                    y,
                    positions,
                    settings={"delay": 0.0},
                    children=[
                        MovementItem(
                            x,
                            positions[::-1],
                            snake=True,
                            children=[
                                MeasurementItem(meter, settings={"range": 1.0}, name="volts")
                            ],
                        )
                    ],
                )
            ]
        ),
        extensions=[CsvLikeExtension("/tmp/data")],
        additional_tags=["overnight"],
        user_fields={"operator": "ada", "temperature_K": 4.2},
    )

    text = settings.to_json()
    restored = Settings.from_json(text)

    assert restored.to_json() == text
    outer = restored.scan_tree.items[0]
    inner = outer.children[0]
    np.testing.assert_array_equal(outer.positions, positions)  # exact, not approximate
    np.testing.assert_array_equal(inner.positions, positions[::-1])
    assert inner.snake is True
    assert type(outer.instrument).__name__ == "JsonStage"
    assert outer.instrument.limits == (-5.0, 5.0)
    assert inner.instrument.position_column == "x"
    assert inner.children[0].measurement_name == "volts"
    assert inner.children[0].settings == {"range": 1.0}
    assert isinstance(restored.extensions[0], CsvLikeExtension)
    assert restored.extensions[0].directory == "/tmp/data"
    assert restored.user_fields == {"operator": "ada", "temperature_K": 4.2}
    assert probe is PositionProbe


def test_broken_scan_json_gives_a_clear_error():
    from pybirch.scan import ScanDefinitionError

    with pytest.raises(ScanDefinitionError, match="not valid JSON"):
        ScanSettings.from_json("{")
    with pytest.raises(ScanDefinitionError, match="lack the field 'scan_tree'"):
        ScanSettings.from_json('{"project_name": "p", "scan_name": "s"}')


def test_an_extension_failing_while_the_scan_aborts_fails_the_scan():
    tree, stage, probe = line(20)
    scan = Scan(
        ScanSettings("t", "ext", scan_tree=tree), extensions=[Exploding("on_abort", critical=True)]
    )
    probe.before_reading = lambda n: scan.abort() if n == 3 else None

    assert scan.run() is ScanState.FAILED
    assert "cannot mark the scan aborted" in str(scan.error)
    assert scan.state.finished
    assert not stage.status


@given(
    start=st.floats(-1e6, 1e6, allow_nan=False),
    stop=st.floats(-1e6, 1e6, allow_nan=False),
    count=st.integers(1, 500),
    jitter=st.integers(-1, 499),
)
@hypothesis_settings(max_examples=200, deadline=None)
def test_positions_survive_json_bit_for_bit_and_a_linspace_is_three_numbers(
    start, stop, count, jitter
):
    positions = np.linspace(start, stop, count)
    if 0 <= jitter < count:  # one position one step off: no longer a linspace
        positions[jitter] = np.nextafter(positions[jitter], np.inf)
    stage, meter = FakeStage("x", axis="x"), FakeLockin("m")
    tree = ScanTree([MovementItem(stage, positions, children=[MeasurementItem(meter)])])

    text = ScanSettings("p", "s", scan_tree=tree).to_json()
    restored = ScanSettings.from_json(text).scan_tree.items[0].positions

    assert np.asarray(restored).tobytes() == positions.tobytes()
    described = json.loads(text)["scan_tree"]["items"][0]["positions"]
    if not 0 <= jitter < count:
        assert described == {"start": positions[0], "stop": positions[-1], "count": count}
