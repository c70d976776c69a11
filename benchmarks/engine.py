"""Engine throughput: PyBirch scans against a bare Python loop making the same calls.

Run: ``.venv/bin/python benchmarks/engine.py`` (add ``--quick`` for a smaller run).

Engine and bare loop run alternately (engine, bare, engine, bare...), so a busy machine
slows both alike; the ratio is the median of the pairs' ratios.

Zero-cost instruments (a movement that stores its position, a measurement that returns a
preallocated row) and a do-nothing extension isolate the engine's own cost: copying rows,
timestamps, pause/abort checks and batching. The same zero-cost scans then run with the
point journal that ``DatabaseExtension`` gives every scan (each point written to a
memory-mapped file as it is measured, so a killed process loses none; see
``pybirch.scan.journal``), and with PyBirch's simulated instruments at zero delay and zero
noise.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pybirch.instruments import Measurement, Movement
from pybirch.instruments.simulated import FakeLockin, FakeStage, SimulatedSample
from pybirch.scan import (
    DataBatch,
    MeasurementItem,
    MovementItem,
    Scan,
    ScanExtension,
    ScanSettings,
    ScanState,
    ScanTree,
    executor,
)
from pybirch.scan.batch import MeasurementColumns
from pybirch.scan.journal import PointJournal
from pybirch.scan.tight_loop import compiled_run_line, python_run_line

GOAL_POINTS_PER_SECOND = 2_000_000
GOAL_RATIO = 4.0


class NullMovement(Movement):
    """A movement that only stores its position."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.position_column = name
        self._position = 0.0

    @property
    def position(self) -> float:
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        self._position = value


class NullMeasurement(Measurement):
    """A measurement that returns a preallocated row."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.data_columns = np.array(["a", "b", "c"])
        self.data_units = np.array(["V", "V", "V"])
        self._row = np.array([[1.0, 2.0, 3.0]])

    def perform_measurement(self) -> np.ndarray:
        return self._row


class NullExtension(ScanExtension):
    """Receives every batch and does nothing with it."""

    def __init__(self) -> None:
        self.rows = 0

    def save_batch(self, batch: DataBatch) -> None:
        self.rows += batch.point_count


class JournalExtension(NullExtension):
    """Journals every point, as ``DatabaseExtension`` does, and releases each batch."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.journals: dict[str, PointJournal] = {}

    def point_recorder(self, columns: MeasurementColumns) -> PointJournal:
        journal = self.journals[columns.name] = PointJournal(self.directory, columns, {})
        return journal

    def save_batch(self, batch: DataBatch) -> None:
        super().save_batch(batch)
        self.journals[batch.measurement_name].release(batch.first_point + batch.point_count)


def bare_1d(movement: Movement, measurement: Measurement, positions: list[float]) -> None:
    """The baseline: the same instrument calls with nothing around them."""
    for x in positions:
        movement.position = x
        measurement.perform_measurement()


def bare_2d(
    outer: Movement, inner: Movement, measurement: Measurement, ys: list[float], xs: list[float]
) -> None:
    """The 2-D baseline."""
    for y in ys:
        outer.position = y
        for x in xs:
            inner.position = x
            measurement.perform_measurement()


def run_scan(tree: ScanTree, journal: bool = False) -> tuple[float, int]:
    """Run a scan with a do-nothing extension; return seconds spent and rows delivered."""
    extension = NullExtension()
    if journal:
        extension = JournalExtension(Path(tempfile.mkdtemp(prefix="pybirch-journal-")))
    scan = Scan(ScanSettings("benchmark", "engine", scan_tree=tree), extensions=[extension])
    started = time.perf_counter()
    state = scan.run()
    elapsed = time.perf_counter() - started
    if isinstance(extension, JournalExtension):
        shutil.rmtree(extension.directory)
    if state is not ScanState.COMPLETED:
        raise RuntimeError(f"benchmark scan ended {state}: {scan.error!r}")
    return elapsed, extension.rows


def interleaved(
    repeats: int, engine: Callable[[], float], bare: Callable[[], float]
) -> tuple[float, float, float]:
    """Median engine seconds, median bare seconds and median ratio of alternating runs."""
    pairs = [(engine(), bare()) for _ in range(repeats)]
    return (
        statistics.median(e for e, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(e / b for e, b in pairs),
    )


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def report(label: str, points: int, timing: tuple[float, float, float], judged: bool) -> None:
    """Print one scan's figures; ``judged`` scans are held to the goal."""
    engine_s, bare_s, ratio = timing
    rate = points / engine_s
    line = (
        f"{label:<44} {points:>9,} points  {rate:>12,.0f} points/s  "
        f"bare loop {points / bare_s:>12,.0f}/s  ratio {ratio:4.2f}x"
    )
    if judged:
        met = rate >= GOAL_POINTS_PER_SECOND and ratio <= GOAL_RATIO
        line += "  [goal met]" if met else "  [GOAL MISSED]"
    print(line)


def compare(
    label: str,
    outer: Movement,
    inner: Movement,
    measurement: Measurement,
    span: float,
    sizes: tuple[int, int, int],
    judged: bool,
    journal: bool = False,
) -> None:
    """Time a 1-D and a 2-D scan of these instruments against the bare loops."""
    n_1d, n_2d, repeats = sizes
    positions = np.linspace(0.0, span, n_1d)
    tree_1d = ScanTree([MovementItem(inner, positions, children=[MeasurementItem(measurement)])])
    timing = interleaved(
        repeats,
        lambda: _checked(run_scan(tree_1d, journal), n_1d),
        lambda: timed(lambda: bare_1d(inner, measurement, positions.tolist())),
    )
    report(f"1-D, {label} ({n_1d:,})", n_1d, timing, judged)

    axis = np.linspace(0.0, span, n_2d)
    tree_2d = ScanTree(
        [
            MovementItem(
                outer,
                axis,
                children=[
                    MovementItem(inner, axis, children=[MeasurementItem(measurement)]),
                ],
            ),
        ]
    )
    timing = interleaved(
        repeats,
        lambda: _checked(run_scan(tree_2d, journal), n_2d * n_2d),
        lambda: timed(lambda: bare_2d(outer, inner, measurement, axis.tolist(), axis.tolist())),
    )
    report(f"2-D, {label} ({n_2d} x {n_2d})", n_2d * n_2d, timing, judged)


def _checked(result: tuple[float, int], expected_rows: int) -> float:
    elapsed, rows = result
    if rows != expected_rows:
        raise RuntimeError(f"expected {expected_rows} rows, the extension got {rows}")
    return elapsed


def main() -> None:
    """Print points per second and the ratio to the bare loop for each scan."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller scans, three pairs of runs")
    args = parser.parse_args()
    n_1d, n_2d, repeats = (10_000, 100, 3) if args.quick else (300_000, 500, 7)
    sizes = (n_1d, n_2d, repeats)
    print(f"goal: >= {GOAL_POINTS_PER_SECOND:,} points/s and <= {GOAL_RATIO:g}x the bare loop")
    built = "compiled" if compiled_run_line else "Python (the compiled one is not built)"
    print(f"tight loop: {built}")
    compare(
        "zero-cost instruments",
        NullMovement("y"),
        NullMovement("x"),
        NullMeasurement("meter"),
        1.0,
        sizes,
        judged=True,
    )
    compare(
        "zero-cost, point journal",
        NullMovement("y"),
        NullMovement("x"),
        NullMeasurement("meter"),
        1.0,
        sizes,
        judged=False,
        journal=True,
    )
    if compiled_run_line is not None:
        # What a computer without a C compiler at install time gets.
        executor.run_line = python_run_line
        compare(
            "zero-cost, Python tight loop",
            NullMovement("y"),
            NullMovement("x"),
            NullMeasurement("meter"),
            1.0,
            sizes,
            judged=False,
        )
        executor.run_line = compiled_run_line
    sample = SimulatedSample()
    compare(
        "simulated stages + lock-in",
        FakeStage("Stage Y", axis="y", sample=sample),
        FakeStage("Stage X", axis="x", sample=sample),
        FakeLockin("Lock-in", sample=sample, noise=0.0),
        50.0,
        sizes,
        judged=False,
    )


if __name__ == "__main__":
    main()
