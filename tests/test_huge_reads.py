"""Reading a long measurement streams it: export, to_xarray and a catch-up read hold about
a chunk (or their own output), never the whole measurement or several copies of it.

The measurement is a 1,000 x 1,000 snaking raster of one reading (10^6 points in chunks of
50,000): read whole it is 40 MB of columns (reading, two positions, timestamp, point
index); its grid is 8 MB. Peaks are measured with tracemalloc.
"""

from __future__ import annotations

import csv
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import xarray  # noqa: F401 (imported here so its import is not counted in a peak)
from sqlalchemy import event

from pybirch.database import DatabaseService, DataIntegrityError
from pybirch.database.export import export_scan
from pybirch.database.storage import ChunkData, Layout

SIDE = 1000
POINTS = SIDE * SIDE
CHUNK_POINTS = 50_000
LAYOUT = Layout.build(["signal (V)"], ["y (mm)", "x (mm)"])
MIB = 2**20
#: The grid of the one reading, float64.
GRID_BYTES = POINTS * 8


def raster() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y, x and signal of every point, in the order they were taken (x snakes)."""
    ys = np.repeat(np.arange(SIDE, dtype=float), SIDE)
    xs = np.tile(np.arange(SIDE, dtype=float), SIDE).reshape(SIDE, SIDE)
    xs[1::2] = xs[1::2, ::-1]
    signal = np.sin(np.arange(POINTS, dtype=float))
    return ys, xs.reshape(-1), signal


@pytest.fixture
def big(db: DatabaseService) -> tuple[DatabaseService, Any, int]:
    """A stored scan with one measurement of a 1000 x 1000 raster."""
    scan = db.create_scan("big map", project_name="huge")
    measurement = db.create_measurement_object(scan.id, "map", LAYOUT).id
    ys, xs, signal = raster()
    for first in range(0, POINTS, CHUNK_POINTS):
        end = first + CHUNK_POINTS
        columns = [signal[first:end], ys[first:end], xs[first:end], np.full(end - first, 1e9)]
        db.write_rows(measurement, ChunkData(first, first, columns, end - first, end - first))
    return db, scan, measurement


def peak_bytes(work: Callable[[], Any]) -> tuple[Any, int]:
    """``work()``'s result and the most memory Python held while it ran."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_to_xarray_streams_into_its_grid_and_holds_about_the_grid(big):
    db, _, measurement = big

    dataset, peak = peak_bytes(lambda: db.read_xarray(measurement))

    signal = dataset["signal (V)"]
    assert signal.dims == ("y (mm)", "x (mm)")
    assert signal.shape == (SIDE, SIDE)
    ys, xs, values = raster()
    expected = np.empty((SIDE, SIDE))
    expected[ys.astype(int), xs.astype(int)] = values
    np.testing.assert_array_equal(signal.values, expected)
    assert signal.attrs["units"] == "V"
    # The grid itself plus a group of chunks being read (about 8 MiB: 4 MiB fetched and
    # decoded, and their cells), not the 40 MB of rows and its copies.
    assert peak < GRID_BYTES + 12 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_to_xarray_of_a_stored_measurement_equals_the_in_memory_one(db: DatabaseService):
    scan = db.create_scan("small map")
    measurement = db.create_measurement_object(scan.id, "map", LAYOUT, point_shape=[2]).id
    ys, xs = np.array([0.0, 0.0, 1.0, 1.0]), np.array([5.0, 6.0, 6.0, 5.0])
    for first in (0, 2):  # two chunks of two points of two rows
        rows = np.arange(first * 2, first * 2 + 4, dtype=float)
        columns = [rows, ys[first : first + 2], xs[first : first + 2], np.zeros(2)]
        db.write_rows(measurement, ChunkData(first * 2, first, columns, 4, 2, rows_per_point=2))

    streamed = db.read_xarray(measurement)
    whole = db.read_measurement(measurement).to_xarray()

    assert streamed.identical(whole)
    assert streamed["signal (V)"].dims == ("y (mm)", "x (mm)", "row")
    np.testing.assert_array_equal(
        streamed["signal (V)"].sel({"y (mm)": 1.0, "x (mm)": 5.0}).values, [6.0, 7.0]
    )


def test_to_xarray_streamed_refuses_a_position_measured_twice(db: DatabaseService):
    scan = db.create_scan("repeat")
    measurement = db.create_measurement_object(scan.id, "map", LAYOUT).id
    for first in (0, 2):  # the second chunk measures the first chunk's positions again
        columns = [np.ones(2), np.zeros(2), np.array([0.0, 1.0]), np.zeros(2)]
        db.write_rows(measurement, ChunkData(first, first, columns, 2, 2))

    with pytest.raises(DataIntegrityError, match="more than once"):
        db.read_xarray(measurement)


def export_peak(db: DatabaseService, scan: Any, folder: Path, export_format: str) -> Path:
    (path,), peak = peak_bytes(lambda: export_scan(db, scan.scan_id, folder, export_format))
    # About a chunk group at a time: well under the 40 MB a whole read would hold.
    assert peak < 12 * MIB, f"{export_format} peak {peak / MIB:.1f} MiB"
    return path


@pytest.mark.slow
def test_exports_of_a_million_points_hold_about_a_chunk(big, tmp_path):
    db, scan, _ = big
    _, xs, signal = raster()

    parquet = export_peak(db, scan, tmp_path / "p", "parquet")
    assert pq.ParquetFile(parquet).metadata.num_rows == POINTS
    np.testing.assert_array_equal(
        pq.read_table(parquet, columns=["x (mm)"])["x (mm)"].to_numpy(), xs
    )
    hdf5 = export_peak(db, scan, tmp_path / "h", "hdf5")
    with h5py.File(hdf5) as file:
        np.testing.assert_array_equal(file["map"]["signal (V)"][:], signal)
    text = export_peak(db, scan, tmp_path / "c", "csv")
    with text.open() as handle:
        rows = csv.reader(line for line in handle if not line.startswith("#"))
        header = next(rows)
        last = None
        for last in rows:  # noqa: B007 (only the last row is checked)
            pass
    assert header[-1] == "point_index"
    assert last is not None
    assert int(last[-1]) == POINTS - 1
    assert float(last[0]) == signal[-1]


def test_a_catch_up_read_near_the_end_holds_about_its_own_rows(big):
    db, _, measurement = big
    start, rows = POINTS - 150_000, 100_000

    data, peak = peak_bytes(lambda: db.read_measurement(measurement, start, start + rows))

    assert len(data) == rows
    assert data.first_row == start
    np.testing.assert_array_equal(data["signal (V)"], raster()[2][start : start + rows])
    # Its own 4 MB of columns plus the chunks it touches, not the measurement.
    assert peak < data.nbytes + 8 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_a_bounded_read_only_asks_for_the_chunks_it_needs(big):
    db, _, measurement = big
    statements: list[str] = []

    def remember(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        # A catch-up from a row near the largest one asks past 2^63: that means "to the end".
        tail = db.read_measurement(measurement, POINTS - 10, 2**63 - 1 + 100_000)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert len(tail) == 10
    chunk_queries = [s for s in statements if "FROM measurement_chunks" in s]
    # The chunk metadata query is bounded below by the chunk holding the first row, so an
    # index seek finds it instead of a scan of every earlier chunk.
    assert any("max(" in s.lower() for s in chunk_queries), chunk_queries
