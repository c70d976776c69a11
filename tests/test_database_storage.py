"""Measurement data as columnar chunks: codec, idempotent writes, range reads and views.

Every read is compared with a numpy reference of the whole measurement (:class:`Table`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sqlalchemy import select, update

from database_builders import count_rows
from pybirch.database import (
    DatabaseService,
    DataIntegrityError,
    DataPoint,
    MeasurementData,
    StorageError,
)
from pybirch.database.models import MeasurementChunk
from pybirch.database.storage import ChunkData, EncodedChunk, Layout, decode, encode

DTYPES = ["float64", "int64", "int32", "float32"]
T0 = datetime(2025, 5, 4, 12, 0, tzinfo=UTC)


@dataclass
class Table:
    """Every row of a measurement as numpy arrays: the reference a read must match."""

    layout: Layout
    #: Rows of each point.
    point_rows: np.ndarray
    #: Data columns: one value per row.
    row_values: dict[str, np.ndarray]
    #: Position and timestamp columns: one value per point.
    point_values: dict[str, np.ndarray]

    @property
    def points(self) -> int:
        return len(self.point_rows)

    @property
    def rows(self) -> int:
        return int(self.point_rows.sum())

    def first_row(self, point: int) -> int:
        return int(self.point_rows[:point].sum())

    def point_index(self) -> np.ndarray:
        return np.repeat(np.arange(self.points, dtype=np.int64), self.point_rows)

    def column(self, label: str) -> np.ndarray:
        """Per-row values of any column (per-point ones repeated over the point's rows)."""
        if label in self.row_values:
            return self.row_values[label]
        return np.repeat(self.point_values[label], self.point_rows)

    def chunk(self, first_point: int, end_point: int) -> ChunkData:
        """Points ``first_point..end_point`` as one chunk to write."""
        start, end = self.first_row(first_point), self.first_row(end_point)
        rows = self.point_rows[first_point:end_point]
        columns = [
            self.point_values[spec.label][first_point:end_point]
            if spec.per_point
            else self.row_values[spec.label][start:end]
            for spec in self.layout.columns
        ]
        uniform = len(set(rows.tolist())) <= 1
        return ChunkData(
            first_row=start,
            first_point=first_point,
            columns=columns,
            row_count=end - start,
            point_count=end_point - first_point,
            rows_per_point=int(rows[0]) if uniform and len(rows) else (1 if uniform else None),
            point_rows=None if uniform else rows.astype(np.int64),
        )

    def chunks(self, bounds: list[int]) -> list[ChunkData]:
        """Chunks split at the point numbers in ``bounds`` (first 0, last ``points``)."""
        return [self.chunk(a, b) for a, b in itertools.pairwise(bounds)]

    def assert_read(self, data: MeasurementData, start: int, end: int | None) -> None:
        """``data`` holds exactly rows ``start..end`` of this table."""
        stop = self.rows if end is None else min(end, self.rows)
        start = min(start, stop)
        assert data.first_row == start
        assert len(data) == stop - start
        np.testing.assert_array_equal(data.point_index, self.point_index()[start:stop])
        np.testing.assert_array_equal(data.row_index, np.arange(start, stop))
        for label, values in data.columns.items():
            expected = self.column(label)[start:stop]
            assert values.dtype == expected.dtype, label
            np.testing.assert_array_equal(values, expected, err_msg=label)


def make_table(layout: Layout, point_rows: list[int] | np.ndarray, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    point_rows = np.asarray(point_rows, dtype=np.int64)
    rows, points = int(point_rows.sum()), len(point_rows)
    row_values = {}
    for spec in layout.columns:
        if spec.kind != "data":
            continue
        if np.dtype(spec.dtype).kind == "f":
            row_values[spec.label] = rng.normal(size=rows).astype(spec.dtype)
        else:
            row_values[spec.label] = rng.integers(-(2**30), 2**30, rows).astype(spec.dtype)
    point_values = {label: rng.uniform(0, 100, points).round(3) for label in layout.position_labels}
    point_values["timestamp"] = T0.timestamp() + 0.05 * np.arange(points)
    return Table(layout, point_rows, row_values, point_values)


LOCKIN = Layout.build(
    ["X (V)", "Y (V)", "counts"], ["y (mm)", "x (mm)"], dtypes={"counts": "int32"}
)


def new_measurement(
    db: DatabaseService,
    layout: Layout = LOCKIN,
    name: str = "lockin",
    point_shape: list[int] | None = None,
) -> int:
    scan = db.create_scan(f"{name} scan")
    return db.create_measurement_object(scan.id, name, layout, point_shape=point_shape).id


@pytest.fixture
def stored(db: DatabaseService) -> tuple[DatabaseService, int, Table]:
    """15 points of 2 rows in three chunks: rows 0..10, 10..24 and 24..30."""
    table = make_table(LOCKIN, [2] * 15, seed=1)
    measurement = new_measurement(db)
    for chunk in table.chunks([0, 5, 12, 15]):
        db.write_rows(measurement, chunk)
    return db, measurement, table


# -- codec -------------------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> tuple[Table, ChunkData]:
    """A random layout and a chunk holding all of a random table."""
    dtypes = draw(st.lists(st.sampled_from(DTYPES), min_size=1, max_size=4))
    labels = [f"c{i} (u{i})" for i in range(len(dtypes))]
    positions = [f"p{i} (mm)" for i in range(draw(st.integers(0, 2)))]
    layout = Layout.build(labels, positions, dtypes=dict(zip(labels, dtypes, strict=True)))
    points = draw(st.integers(0, 12))
    if draw(st.booleans()):
        point_rows = [draw(st.integers(1, 6))] * points
    else:
        point_rows = draw(st.lists(st.integers(1, 6), min_size=points, max_size=points))
    rows = sum(point_rows)
    table = make_table(layout, point_rows)
    for label, dtype in zip(labels, dtypes, strict=True):  # any value, NaN and inf included
        table.row_values[label] = draw(hnp.arrays(np.dtype(dtype), rows))
    for label in positions:
        table.point_values[label] = draw(hnp.arrays(np.float64, points))
    return table, table.chunk(0, points)


@settings(max_examples=150, deadline=None)
@given(tables(), st.integers(0, 2**40))
def test_encode_decode_round_trip(drawn: tuple[Table, ChunkData], offset: int) -> None:
    table, chunk = drawn
    chunk = replace(chunk, first_row=chunk.first_row + offset, first_point=offset // 7)

    encoded = encode(chunk, table.layout)
    decoded = decode(encoded, table.layout)

    assert (encoded.first_row, encoded.end_row) == (chunk.first_row, chunk.first_row + table.rows)
    assert (decoded.first_row, decoded.first_point) == (chunk.first_row, chunk.first_point)
    assert (decoded.row_count, decoded.point_count) == (table.rows, table.points)
    assert decoded.rows_per_point == chunk.rows_per_point
    if chunk.rows_per_point is None:
        np.testing.assert_array_equal(decoded.point_rows, table.point_rows)
    for spec, original, back in zip(
        table.layout.columns, chunk.columns, decoded.columns, strict=True
    ):
        assert back.dtype == np.dtype(spec.dtype), spec.label
        assert back.shape == (table.points if spec.per_point else table.rows,)
        np.testing.assert_array_equal(back, original, err_msg=spec.label)


@settings(max_examples=50, deadline=None)
@given(tables(), st.data())
def test_decode_only_the_wanted_columns(drawn: tuple[Table, ChunkData], data: st.DataObject):
    table, chunk = drawn
    wanted = data.draw(st.sets(st.integers(0, len(table.layout.columns) - 1)))

    decoded = decode(encode(chunk, table.layout), table.layout, wanted)

    for i, (original, back) in enumerate(zip(chunk.columns, decoded.columns, strict=True)):
        if i in wanted:
            np.testing.assert_array_equal(back, original)
        else:
            assert back is None


def test_encode_refuses_columns_that_do_not_fit_the_layout() -> None:
    table = make_table(LOCKIN, [2, 2, 2])
    chunk = table.chunk(0, 3)
    with pytest.raises(DataIntegrityError, match="X \\(V\\)"):
        encode(replace(chunk, columns=[chunk.columns[0][:-1], *chunk.columns[1:]]), LOCKIN)
    with pytest.raises(DataIntegrityError, match="columns"):
        encode(replace(chunk, columns=chunk.columns[:-1]), LOCKIN)
    with pytest.raises(DataIntegrityError, match="claims"):
        encode(replace(chunk, rows_per_point=3), LOCKIN)
    with pytest.raises(DataIntegrityError, match="point_rows"):
        encode(replace(chunk, rows_per_point=None, point_rows=np.array([1, 1, 1])), LOCKIN)


def test_layout_keeps_units_kinds_and_refuses_bad_columns() -> None:
    assert LOCKIN.labels == ["X (V)", "Y (V)", "counts", "y (mm)", "x (mm)", "timestamp"]
    assert LOCKIN.data_labels == ["X (V)", "Y (V)", "counts"]
    assert LOCKIN.position_labels == ["y (mm)", "x (mm)"]
    assert LOCKIN.units()["X (V)"] == "V"
    assert LOCKIN.units()["counts"] == ""
    assert Layout.from_json(LOCKIN.to_json()) == LOCKIN
    with pytest.raises(DataIntegrityError, match="duplicate"):
        Layout.build(["X (V)", "X (V)"])
    with pytest.raises(DataIntegrityError, match="point_index"):
        Layout.build(["point_index"])
    with pytest.raises(DataIntegrityError, match="only numbers"):
        Layout.build(["name"], dtypes={"name": "U10"})


# -- writing -----------------------------------------------------------------------------------


def test_store_chunks_is_idempotent(db: DatabaseService) -> None:
    table = make_table(LOCKIN, [3] * 12)
    measurement = new_measurement(db)
    encoded = [encode(chunk, LOCKIN) for chunk in table.chunks([0, 4, 9, 12])]

    db.store_chunks(measurement, encoded)
    db.store_chunks(measurement, encoded)  # a replayed spool
    db.store_chunks(measurement, encoded[1:2])

    assert count_rows(db, MeasurementChunk) == 3
    assert db.get_row_count(measurement) == 36
    table.assert_read(db.read_measurement(measurement), 0, None)


def test_write_rows_refuses_overlaps_and_accepts_an_exact_replay(db: DatabaseService) -> None:
    table = make_table(LOCKIN, [2] * 20)
    measurement = new_measurement(db)
    db.write_rows(measurement, table.chunk(0, 5))  # rows 0..10
    db.write_rows(measurement, table.chunk(10, 15))  # rows 20..30

    db.write_rows(measurement, table.chunk(0, 5))  # the same batch again: no error, no copy
    for first, end in [(2, 7), (4, 10), (0, 10), (9, 12), (3, 4), (0, 20)]:
        with pytest.raises(DataIntegrityError, match="overlap"):
            db.write_rows(measurement, table.chunk(first, end))
    assert count_rows(db, MeasurementChunk) == 2
    assert db.get_row_count(measurement) == 20

    db.write_rows(measurement, table.chunk(5, 10))  # fills the gap exactly
    db.write_rows(measurement, table.chunk(15, 20))
    table.assert_read(db.read_measurement(measurement), 0, None)


def test_bulk_create_data_points_refuses_overlaps(db: DatabaseService) -> None:
    measurement = new_measurement(db, Layout.build(["X (V)"]))

    def points(indices: range) -> list[dict]:
        return [
            {
                "measurement_object_id": measurement,
                "sequence_index": i,
                "values": {"X (V)": float(i)},
                "timestamp": T0 + timedelta(seconds=i),
            }
            for i in indices
        ]

    assert db.bulk_create_data_points(points(range(10))) == 10
    assert db.bulk_create_data_points(points(range(10))) == 10  # a replay
    with pytest.raises(DataIntegrityError, match="overlap"):
        db.bulk_create_data_points(points(range(5, 15)))
    assert db.get_row_count(measurement) == 10
    db.bulk_create_data_points(points(range(10, 15)))
    assert db.read_measurement(measurement)["X (V)"].tolist() == [float(i) for i in range(15)]


def test_a_measurement_object_is_created_once_with_one_layout(db: DatabaseService) -> None:
    scan = db.create_scan("s")
    first = db.create_measurement_object(scan.id, "lockin", LOCKIN, instrument_name="Lock-in")
    assert db.create_measurement_object(scan.id, "lockin", LOCKIN).id == first.id
    with pytest.raises(DataIntegrityError, match="stored with columns"):
        db.create_measurement_object(scan.id, "lockin", Layout.build(["X (V)"]))

    stored = db.get_measurement_object(first.id)
    assert stored.data_columns == ["X (V)", "Y (V)", "counts"]
    assert stored.unit == ["V", "V", ""]
    assert Layout.from_json(stored.columns) == LOCKIN


def test_rows_beyond_32_bit_indices(db: DatabaseService) -> None:
    table = make_table(LOCKIN, [4] * 6)
    measurement = new_measurement(db)
    far = 3_000_000_000
    chunk = replace(table.chunk(0, 6), first_row=far, first_point=far // 4)

    db.write_rows(measurement, chunk)

    data = db.read_measurement(measurement, far + 5, far + 9)
    assert data.first_row == far + 5
    np.testing.assert_array_equal(data.point_index, far // 4 + np.array([1, 1, 1, 2]))
    np.testing.assert_array_equal(data["X (V)"], table.column("X (V)")[5:9])


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),  # everything
        (3, 7),  # inside the first chunk
        (7, 13),  # mid first chunk to mid second
        (3, 27),  # across all three, starting and ending mid-chunk
        (10, 24),  # exactly the middle chunk
        (9, 10),  # the last row of a chunk
        (24, 30),  # exactly the last chunk
        (25, 1000),  # past the end
        (12, 12),  # empty
        (30, 40),  # after the last row
    ],
)
def test_read_measurement_returns_exactly_the_range(
    stored: tuple[DatabaseService, int, Table], start: int, end: int | None
) -> None:
    db, measurement, table = stored
    data = db.read_measurement(measurement, start, end)
    assert set(data.columns) == set(LOCKIN.labels)
    table.assert_read(data, start, end)


def test_read_a_subset_of_columns(stored: tuple[DatabaseService, int, Table]) -> None:
    db, measurement, table = stored
    data = db.read_measurement(measurement, 5, 21, columns=["counts", "x (mm)"])
    assert list(data.columns) == ["counts", "x (mm)"]
    table.assert_read(data, 5, 21)
    with pytest.raises(KeyError):
        data["X (V)"]
    with pytest.raises(DataIntegrityError, match="no column"):
        db.read_measurement(measurement, columns=["Z (V)"])


def test_read_points_with_varying_row_counts(db: DatabaseService) -> None:
    table = make_table(LOCKIN, [1, 3, 2, 4, 1, 2, 3, 5], seed=4)
    measurement = new_measurement(db)
    for chunk in table.chunks([0, 3, 7, 8]):
        db.write_rows(measurement, chunk)

    for start, end in [(0, None), (2, 9), (5, 17), (6, 6), (15, 21)]:
        table.assert_read(db.read_measurement(measurement, start, end), start, end)


def test_iter_measurement_yields_chunk_by_chunk(stored: tuple[DatabaseService, int, Table]):
    db, measurement, table = stored

    pieces = list(db.iter_measurement(measurement, 3, 27))

    assert [(p.first_row, len(p)) for p in pieces] == [(3, 7), (10, 14), (24, 3)]
    for piece in pieces:
        table.assert_read(piece, piece.first_row, piece.first_row + len(piece))
    assert [len(p) for p in db.iter_measurement(measurement)] == [10, 14, 6]
    assert list(db.iter_measurement(measurement, 40, 50)) == []


def test_empty_measurement_reads_as_no_rows(db: DatabaseService) -> None:
    measurement = new_measurement(db)
    data = db.read_measurement(measurement)
    assert len(data) == 0
    assert set(data.columns) == set(LOCKIN.labels)
    assert data["counts"].dtype == np.int32
    assert db.get_row_count(measurement) == 0


def test_to_dataframe(stored: tuple[DatabaseService, int, Table]) -> None:
    db, measurement, table = stored

    frame = db.read_measurement(measurement, 4, 14).to_dataframe()

    assert list(frame.columns) == [*LOCKIN.labels, "point_index"]
    assert list(frame.index) == list(range(4, 14))
    assert frame.index.name == "row"
    for label in LOCKIN.labels:
        np.testing.assert_array_equal(frame[label].to_numpy(), table.column(label)[4:14])
    assert frame["point_index"].tolist() == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert frame["counts"].dtype == np.int32


SPECTRUM = Layout.build(["wavelength (nm)", "intensity (counts)"])


def test_arrays_gives_one_spectrum_per_point(db: DatabaseService) -> None:
    table = make_table(SPECTRUM, [1024] * 7, seed=2)
    measurement = new_measurement(db, SPECTRUM, "spectrometer", point_shape=[1024])
    for chunk in table.chunks([0, 4, 7]):
        db.write_rows(measurement, chunk)

    data = db.read_measurement(measurement)
    spectra = data.arrays("intensity (counts)")

    assert spectra.shape == (7, 1024)
    np.testing.assert_array_equal(spectra, table.row_values["intensity (counts)"].reshape(7, 1024))
    middle = db.read_measurement(measurement, 2 * 1024, 5 * 1024).arrays("wavelength (nm)")
    np.testing.assert_array_equal(middle, table.row_values["wavelength (nm)"].reshape(7, 1024)[2:5])
    with pytest.raises(DataIntegrityError, match="whole points"):
        db.read_measurement(measurement, 0, 1500).arrays("intensity (counts)")
    assert db.get_row_count(measurement) == 7 * 1024
    scan_id = db.get_measurement_object(measurement).scan_id
    assert db.get_data_point_count(scan_id) == 7


def test_arrays_needs_a_point_shape(stored: tuple[DatabaseService, int, Table]) -> None:
    db, measurement, _ = stored
    with pytest.raises(DataIntegrityError, match="different numbers of rows"):
        db.read_measurement(measurement).arrays("X (V)")


GRID = Layout.build(["signal (V)"], ["y (mm)", "x (mm)"])
YS, XS = np.array([0.0, 0.5, 1.0]), np.array([10.0, 20.0, 30.0, 40.0])


def grid_table(rows_per_point: int = 1, snake: bool = False) -> Table:
    """A 3 x 4 raster, y outer and x inner (reversed on odd lines if ``snake``)."""
    ys, xs = [], []
    for line, y in enumerate(YS):
        for x in XS[::-1] if snake and line % 2 else XS:
            ys.append(y)
            xs.append(x)
    table = make_table(GRID, [rows_per_point] * len(ys), seed=3)
    table.point_values["y (mm)"] = np.array(ys)
    table.point_values["x (mm)"] = np.array(xs)
    return table


def expected_grid(table: Table, points: int, rows_per_point: int = 1) -> np.ndarray:
    """The data on a y x x (x row) grid, NaN where no point was measured."""
    grid = np.full((len(YS), len(XS), rows_per_point), np.nan)
    signal = table.row_values["signal (V)"].reshape(-1, rows_per_point)
    for p in range(points):
        iy = int(np.searchsorted(YS, table.point_values["y (mm)"][p]))
        ix = int(np.searchsorted(XS, table.point_values["x (mm)"][p]))
        grid[iy, ix] = signal[p]
    return grid if rows_per_point > 1 else grid[..., 0]


@pytest.mark.parametrize("snake", [False, True], ids=["raster", "snake"])
def test_to_xarray_puts_an_unfinished_grid_on_its_positions(
    db: DatabaseService, snake: bool
) -> None:
    table = grid_table(snake=snake)
    measurement = new_measurement(db, GRID, "map")
    for chunk in table.chunks([0, 4, 9]):  # stopped after 9 of 12 points
        db.write_rows(measurement, chunk)

    dataset = db.read_measurement(measurement).to_xarray()

    signal = dataset["signal (V)"]
    assert signal.dims == ("y (mm)", "x (mm)")
    np.testing.assert_array_equal(dataset["y (mm)"].values, YS)
    np.testing.assert_array_equal(dataset["x (mm)"].values, XS)
    np.testing.assert_array_equal(signal.values, expected_grid(table, 9))
    assert np.isnan(signal.values).sum() == 3
    assert signal.attrs["units"] == "V"
    assert dataset["x (mm)"].attrs["units"] == "mm"
    value = signal.sel({"y (mm)": 0.5, "x (mm)": 40.0}).item()
    point = 4 if snake else 7  # the point taken at y=0.5, x=40
    assert value == table.row_values["signal (V)"][point]


def test_to_xarray_with_several_rows_per_point(db: DatabaseService) -> None:
    table = grid_table(rows_per_point=3)
    measurement = new_measurement(db, GRID, "map", point_shape=[3])
    db.write_rows(measurement, table.chunk(0, 12))

    signal = db.read_measurement(measurement).to_xarray()["signal (V)"]

    assert signal.dims == ("y (mm)", "x (mm)", "row")
    assert signal.shape == (3, 4, 3)
    np.testing.assert_array_equal(signal.values, expected_grid(table, 12, rows_per_point=3))


def test_to_xarray_refuses_repeated_positions(db: DatabaseService) -> None:
    table = grid_table()
    table.point_values["x (mm)"][5] = table.point_values["x (mm)"][4]  # measured twice
    table.point_values["y (mm)"][5] = table.point_values["y (mm)"][4]
    measurement = new_measurement(db, GRID, "map")
    db.write_rows(measurement, table.chunk(0, 12))

    data = db.read_measurement(measurement)
    with pytest.raises(DataIntegrityError, match="more than once"):
        data.to_xarray()
    assert len(data.to_dataframe()) == 12  # still readable as a table


def test_to_xarray_needs_positions(db: DatabaseService) -> None:
    measurement = new_measurement(db, SPECTRUM, "spectrum")
    db.write_rows(measurement, make_table(SPECTRUM, [2, 2]).chunk(0, 2))
    with pytest.raises(DataIntegrityError, match="no position columns"):
        db.read_measurement(measurement).to_xarray()


# -- the seed's row API ------------------------------------------------------------------------


def iv_points(measurement: int, indices: list[int]) -> list[dict]:
    """The seed's row dicts for an I-V sweep: row ``i`` at ``0.1 i`` V, 250 ms apart."""
    return [
        {
            "measurement_object_id": measurement,
            "sequence_index": i,
            "values": {"voltage (V)": 0.1 * i, "current (A)": 1e-6 * i},
            "timestamp": T0 + timedelta(milliseconds=250 * i),
        }
        for i in indices
    ]


def test_row_api_round_trip(db: DatabaseService) -> None:
    scan = db.create_scan("IV")
    iv = db.create_measurement_object(scan.id, "iv", ["voltage (V)", "current (A)"])
    other = db.create_measurement_object(scan.id, "temperature", ["T (K)"])
    temperatures = [
        {
            "measurement_object_id": other.id,
            "sequence_index": i,
            "values": {"T (K)": 4.2},
            "timestamp": (T0 + timedelta(seconds=i)).timestamp(),  # epoch seconds work too
        }
        for i in range(3)
    ]

    written = db.bulk_create_data_points(iv_points(iv.id, [3, 0, 4, 1, 2, 6, 5]) + temperatures)

    assert written == 10
    assert count_rows(db, MeasurementChunk) == 2  # one run per measurement
    rows = db.get_measurement_data(iv.id, 2, 5)
    assert all(isinstance(row, DataPoint) for row in rows)
    assert [row.sequence_index for row in rows] == [2, 3, 4]
    assert [row.point_index for row in rows] == [2, 3, 4]
    assert rows[1].values == pytest.approx({"voltage (V)": 0.3, "current (A)": 3e-6})
    assert rows[1].timestamp == T0 + timedelta(milliseconds=750)
    assert rows[1].timestamp.tzinfo is not None
    assert rows[1].measurement_object_id == iv.id
    assert [row.sequence_index for row in db.get_measurement_data(iv.id)] == list(range(7))
    assert [row.sequence_index for row in db.get_measurement_data(iv.id, start_index=5)] == [5, 6]
    assert db.get_measurement_data(iv.id, 7, 9) == []

    assert db.get_data_point_count(scan.id) == 10
    assert db.get_data_point_count(scan.id, "iv") == 7
    assert db.get_data_point_count(scan.id, "temperature") == 3
    assert db.get_data_point_count(scan.id, "nothing") == 0


def test_reads_across_a_gap_keep_each_rows_index(db: DatabaseService) -> None:
    scan = db.create_scan("IV")
    iv = db.create_measurement_object(scan.id, "iv", ["voltage (V)", "current (A)"])
    db.bulk_create_data_points(iv_points(iv.id, [0, 1, 2, 3, 4, 7, 8, 9]))  # 5, 6 not yet in
    assert count_rows(db, MeasurementChunk) == 2

    data = db.read_measurement(iv.id)
    assert data["voltage (V)"].tolist() == pytest.approx(
        [0.1 * i for i in (0, 1, 2, 3, 4, 7, 8, 9)]
    )
    assert [row.sequence_index for row in db.get_measurement_data(iv.id)] == [
        0, 1, 2, 3, 4, 7, 8, 9
    ]  # fmt: skip
    assert data.row_index.tolist() == [0, 1, 2, 3, 4, 7, 8, 9]
    assert data.to_dataframe().index.tolist() == [0, 1, 2, 3, 4, 7, 8, 9]


def test_row_api_refuses_incomplete_points(db: DatabaseService) -> None:
    scan = db.create_scan("IV")
    iv = db.create_measurement_object(scan.id, "iv", ["voltage (V)", "current (A)"])
    point = {"measurement_object_id": iv.id, "sequence_index": 0, "timestamp": T0}
    with pytest.raises(DataIntegrityError, match="current"):
        db.bulk_create_data_points([{**point, "values": {"voltage (V)": 1.0}}])
    with pytest.raises(DataIntegrityError, match="naive"):
        db.bulk_create_data_points(
            [
                {
                    **point,
                    "values": {"voltage (V)": 1.0, "current (A)": 0.0},
                    "timestamp": datetime(2025, 1, 1),
                }
            ]
        )
    assert db.get_data_point_count(scan.id) == 0


# -- corruption --------------------------------------------------------------------------------


def stored_chunk(db: DatabaseService, measurement: int, first_row: int = 0) -> EncodedChunk:
    with db.engine.connect() as connection:
        row = connection.execute(
            select(MeasurementChunk.__table__).where(
                MeasurementChunk.measurement_object_id == measurement,
                MeasurementChunk.first_row == first_row,
            )
        ).one()
    return EncodedChunk(
        row.first_row,
        row.row_count,
        row.first_point,
        row.point_count,
        row.rows_per_point,
        row.codec,
        list(row.frame_sizes),
        bytes(row.payload),
    )


def damage(db: DatabaseService, measurement: int, **values: object) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            update(MeasurementChunk)
            .where(
                MeasurementChunk.measurement_object_id == measurement,
                MeasurementChunk.first_row == 10,
            )
            .values(**values)
        )


def garbage(size: int) -> bytes:
    return np.random.default_rng(9).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(
    "corruption",
    [
        lambda chunk: {"payload": garbage(len(chunk.payload))},
        lambda chunk: {"payload": chunk.payload[: len(chunk.payload) // 3]},
        lambda chunk: {"payload": b""},
        lambda chunk: {"codec": "lz4-from-the-future"},
        lambda chunk: {"frame_sizes": chunk.frame_sizes[:-1]},
    ],
    ids=["garbage", "truncated", "empty", "unknown-codec", "missing-frame"],
)
def test_a_corrupted_chunk_raises_storage_error(
    stored: tuple[DatabaseService, int, Table], corruption
) -> None:
    db, measurement, table = stored
    damage(db, measurement, **corruption(stored_chunk(db, measurement, 10)))

    with pytest.raises(StorageError):
        db.read_measurement(measurement)
    with pytest.raises(StorageError):
        db.read_measurement(measurement, 12, 14)
    table.assert_read(db.read_measurement(measurement, 0, 10), 0, 10)  # other chunks intact
    table.assert_read(db.read_measurement(measurement, 24, 30), 24, 30)


def test_a_damaged_column_does_not_stop_reading_the_others(
    stored: tuple[DatabaseService, int, Table],
) -> None:
    db, measurement, table = stored
    chunk = stored_chunk(db, measurement, 10)
    start = chunk.frame_sizes[0]  # the frame of "Y (V)"
    payload = bytearray(chunk.payload)
    payload[start : start + chunk.frame_sizes[1]] = b"\xff" * chunk.frame_sizes[1]
    damage(db, measurement, payload=bytes(payload))

    table.assert_read(db.read_measurement(measurement, columns=["X (V)", "counts"]), 0, None)
    with pytest.raises(StorageError):
        db.read_measurement(measurement, columns=["Y (V)"])


def test_flipped_data_bytes_raise_storage_error(
    stored: tuple[DatabaseService, int, Table],
) -> None:
    db, measurement, _ = stored
    chunk = stored_chunk(db, measurement, 10)
    payload = bytearray(chunk.payload)
    payload[chunk.frame_sizes[0] - 3] ^= 0xFF  # a byte of X (V)'s values, not its header
    damage(db, measurement, payload=bytes(payload))

    with pytest.raises(StorageError):
        db.read_measurement(measurement)
