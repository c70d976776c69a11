"""Builders shared by the database tests: PyBirch objects to store, and row counts.

Also scans on simulated instruments that remember every reading they returned (so a test
can compare the database with it value by value) and helpers to wait for a condition.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import func, select

from pybirch.database import DatabaseService
from pybirch.database.models import Base
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakeSpectrometer,
    FakeStage,
    SimulatedSample,
)
from pybirch.queue.samples import Sample as PyBirchSample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree


def line_scan(
    scan_name: str = "Line scan",
    project_name: str = "Graphene",
    points: int = 11,
    sample: PyBirchSample | None = None,
    **settings: object,
) -> Scan:
    """A 1-D PyBirch scan: a simulated stage moved over ``points`` positions, a lock-in read."""
    stage = FakeStage("X stage", axis="x")
    lockin = FakeLockin("Lock-in")
    tree = ScanTree(
        [MovementItem(stage, np.linspace(0.0, 10.0, points), children=[MeasurementItem(lockin)])]
    )
    return Scan(ScanSettings(project_name, scan_name, scan_tree=tree, **settings), sample=sample)


def rgb_image(height: int = 6, width: int = 9, seed: int = 0) -> np.ndarray:
    """A random 8-bit RGB picture (every pixel different enough to catch a lossy codec)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def pybirch_sample(
    sample_id: str = "S-001", material: str = "MoS2", image: np.ndarray | None = None
) -> PyBirchSample:
    """A PyBirch sample with two tags and the given image."""
    return PyBirchSample(sample_id, material, ["flake", "exfoliated"], image)


def count_rows(db: DatabaseService, model: type[Base]) -> int:
    """How many rows ``model``'s table holds in ``db``."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- scans on simulated instruments that remember what they returned -------------------------


class ReadingRecorder:
    """Mixin for a simulated measurement: keeps a copy of every reading it returned.

    ``before_reading[n]`` is called just before reading number ``n`` (counting from 0), in
    the scan's thread: a test uses it to pause, abort or hold a scan at a known point.
    ``fail_at = n`` makes reading ``n`` raise, as an instrument that loses its signal does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readings: list[np.ndarray] = []
        self.before_reading: dict[int, Callable[[], object]] = {}
        self.fail_at: int | None = None

    def _perform_measurement_impl(self) -> np.ndarray:
        number = len(self.readings)
        hook = self.before_reading.get(number)
        if hook is not None:
            hook()
        if self.fail_at == number:
            raise RuntimeError(f"{self.name} lost its signal at reading {number}")
        reading = super()._perform_measurement_impl()  # type: ignore[misc]
        self.readings.append(np.array(reading, dtype=float, copy=True))
        return reading

    def rows(self) -> np.ndarray:
        """Every row returned so far, in order (rows x data columns)."""
        return np.vstack(self.readings)


class RecordingLockin(ReadingRecorder, FakeLockin):
    """A simulated lock-in that remembers its readings."""


class RecordingMultimeter(ReadingRecorder, FakeMultimeter):
    """A simulated multimeter that remembers its readings."""


class RecordingSpectrometer(ReadingRecorder, FakeSpectrometer):
    """A simulated spectrometer that remembers its spectra."""


def iv_settings(
    points: int = 21, scan_name: str = "IV sweep", project_name: str = "Graphene"
) -> tuple[ScanSettings, RecordingMultimeter]:
    """A current sweep (``points`` currents) reading voltage and current on a multimeter."""
    device = SimulatedSample()
    source = FakeCurrentSource("Current Source", sample=device)
    meter = RecordingMultimeter("Multimeter", sample=device, include_current=True, noise=1e-4)
    tree = ScanTree([MovementItem(source, iv_currents(points), children=[MeasurementItem(meter)])])
    settings = ScanSettings(project_name, scan_name, "1D Scan", "Transport", scan_tree=tree)
    return settings, meter


def iv_currents(points: int = 21) -> np.ndarray:
    """The currents :func:`iv_settings` sweeps, in amperes."""
    return np.linspace(-1e-3, 1e-3, points)


def map_settings(
    xs: np.ndarray, ys: np.ndarray, scan_name: str = "Lock-in map", snake: bool = True
) -> tuple[ScanSettings, RecordingLockin]:
    """A 2-D raster: stage y outside, stage x inside (snaking), a lock-in read at each point."""
    device = SimulatedSample()
    stage_x = FakeStage("Stage X", axis="x", sample=device)
    stage_y = FakeStage("Stage Y", axis="y", sample=device)
    lockin = RecordingLockin("Lock-in", sample=device, noise=1e-5)
    inner = MovementItem(stage_x, xs, snake=snake, children=[MeasurementItem(lockin)])
    tree = ScanTree([MovementItem(stage_y, ys, children=[inner])])
    return ScanSettings("Graphene", scan_name, "2D Scan", "Imaging", scan_tree=tree), lockin


def spectrum_settings(
    positions: np.ndarray, pixels: int = 64
) -> tuple[ScanSettings, RecordingSpectrometer]:
    """A line of spectra: stage x over ``positions``, a ``pixels``-row spectrum at each."""
    device = SimulatedSample()
    stage = FakeStage("Stage X", axis="x", sample=device)
    spectrometer = RecordingSpectrometer("Spectrometer", sample=device, pixels=pixels)
    tree = ScanTree([MovementItem(stage, positions, children=[MeasurementItem(spectrometer)])])
    settings = ScanSettings("Graphene", "PL line", "1D Scan", "Spectroscopy", scan_tree=tree)
    return settings, spectrometer


def snake_grid(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The (y, x) of every point of :func:`map_settings`, in the order they are taken."""
    rows = []
    for line, y in enumerate(ys):
        for x in xs if line % 2 == 0 else xs[::-1]:
            rows.append((y, x))
    return np.array(rows, dtype=float)


# -- waiting and processes ---------------------------------------------------------------------


class Hold:
    """A ``before_reading`` hook that holds the scan's thread until :meth:`release`.

    ``reached`` is set once the scan is held, so a test knows exactly where the scan is.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self.timeout = timeout

    def __call__(self) -> None:
        self.reached.set()
        self.released.wait(self.timeout)

    def wait_reached(self) -> None:
        """Block until the scan is held; fail the test after the timeout."""
        assert self.reached.wait(self.timeout), "the scan never reached the hold"

    def release(self) -> None:
        self.released.set()


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.01)


def dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels (a bomb when large).

    Only the header is changed: a reader that decodes before checking the size would
    try to allocate the whole picture.
    """
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    raw = bytearray(buffer.getvalue())
    # The IHDR chunk follows the 8-byte signature: length, type, width, height, ..., CRC.
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    return bytes(raw)


def bind_spectrometer(db: DatabaseService, lab_id: int, computer_id: int, **options: Any) -> int:
    """A simulated spectrometer of the lab bound to a computer (``options`` make it); its id."""
    record = db.register_instrument_on_computer(
        {
            "name": "Spectrometer",
            "instrument_type": "measurement",
            "pybirch_class": f"{FakeSpectrometer.__module__}:FakeSpectrometer",
            "manufacturer": "Simulated Optics",
            "model": "SPX-1024",
            "serial_number": "SN-42",
        },
        lab_id,
        computer_id,
    )
    db.bind_instrument_to_computer(record.id, computer_id=computer_id, options=options)
    return record.id
