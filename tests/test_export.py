"""Exporting a stored scan to CSV, HDF5 and Parquet gives back every value, label and metadata."""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from pybirch import __version__
from pybirch.cli.main import cli
from pybirch.database import DatabaseService, migrate
from pybirch.database.engine import create_database_engine
from pybirch.database.export import FORMATS, ExportError, ExportNotFoundError, export_scan
from pybirch.database.models import Scan
from pybirch.database.storage import ChunkData, Layout, encode

SCAN_NAME = "IV sweep/1"
FILE_STEM = "IV_sweep_1"
INSTRUMENT_SETTINGS = {"Multimeter": {"range": 10.0, "nplc": 1}, "Stage": {"speed": 2}}
SCAN_TREE = {"root": {"children": [{"name": "x", "positions": [0.0, 1.0]}]}}
#: float64 values that a careless text format would not give back bit for bit.
AWKWARD = np.array(
    [
        *(0.1, -0.0, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 1 / 3, 1e22),
        *(np.nan, np.inf, -np.inf, 123456789.12345679, -1.0000000000000002),
    ]
)


@dataclass
class StoredMeasurement:
    """A measurement written to the database and the rows an export must give back."""

    name: str
    layout: Layout
    chunk_count: int
    #: Every label of the layout and ``point_index``, one value per row.
    expected: dict[str, np.ndarray]

    @property
    def labels(self) -> list[str]:
        return [*self.layout.labels, "point_index"]


@dataclass
class StoredScan:
    scan: Scan
    measurements: list[StoredMeasurement]

    def measurement(self, name: str) -> StoredMeasurement:
        return next(m for m in self.measurements if m.name == name)


def store_measurement(
    db: DatabaseService,
    scan_pk: int,
    name: str,
    layout: Layout,
    rows_of_points: list[np.ndarray],
    *,
    rows_per_point: int | None,
    seed: int,
    point_shape: list[int] | None = None,
    awkward: bool = False,
) -> StoredMeasurement:
    """Store one chunk per entry of ``rows_of_points`` (each point's row count)."""
    rng = np.random.default_rng(seed)
    measurement = db.create_measurement_object(scan_pk, name, layout, point_shape=point_shape)
    expected: dict[str, list[np.ndarray]] = {label: [] for label in [*layout.labels, "point_index"]}
    encoded = []
    first_row = first_point = 0
    for point_rows in rows_of_points:
        rows, points = int(point_rows.sum()), len(point_rows)
        columns = []
        for spec in layout.columns:
            if spec.kind == "data" and np.dtype(spec.dtype).kind == "i":
                values = rng.integers(-(2**62), 2**62, rows, dtype=spec.dtype)
            elif spec.kind == "data":
                values = rng.normal(size=rows) * 10.0 ** rng.integers(-12, 12, rows)
                if awkward and first_row == 0:
                    values[: len(AWKWARD)] = AWKWARD
            elif spec.kind == "position":
                values = rng.uniform(-5, 5, points)
            else:
                values = 1.7e9 + np.cumsum(rng.uniform(0.001, 0.1, points)) + first_point
            columns.append(values)
            expected[spec.label].append(
                values if spec.kind == "data" else np.repeat(values, point_rows)
            )
        point_numbers = np.arange(first_point, first_point + points)
        expected["point_index"].append(np.repeat(point_numbers, point_rows))
        chunk = ChunkData(
            first_row,
            first_point,
            columns,
            rows,
            points,
            rows_per_point=rows_per_point,
            point_rows=None if rows_per_point else point_rows.astype(np.int64),
        )
        encoded.append(encode(chunk, layout))
        first_row, first_point = first_row + rows, first_point + points
    db.store_chunks(measurement.id, encoded)
    return StoredMeasurement(
        name,
        layout,
        len(encoded),
        {label: np.concatenate(parts) for label, parts in expected.items()},
    )


def store_scan(db: DatabaseService) -> StoredScan:
    """A finished scan with a sample, a project and three measurements of different shapes."""
    db.create_project("Graphene")
    sample = db.create_sample("S-042")
    scan = db.create_scan(
        SCAN_NAME,
        project_name="Graphene",
        sample_id=sample.id,
        operator="ada",
        scan_type="IV",
        job_type="transport",
        instrument_settings=INSTRUMENT_SETTINGS,
        scan_tree_data=SCAN_TREE,
    )
    db.update_scan_status(scan.id, "running")
    db.update_scan_status(scan.id, "completed")
    iv = store_measurement(
        db,
        scan.id,
        "Multimeter",
        Layout.build(
            ["voltage (V)", "current (A)", "counts (1)"],
            ["x (mm)"],
            dtypes={"counts (1)": "int64"},
        ),
        [np.ones(n, dtype=np.int64) for n in (40, 1, 25)],
        rows_per_point=1,
        seed=1,
        awkward=True,
    )
    spectrum = store_measurement(
        db,
        scan.id,
        "Spectrometer",
        Layout.build(["wavelength (nm)", "intensity (a.u.)"], ["x (mm)", "y (mm)"]),
        [np.full(points, 16) for points in (3, 5, 1, 4)],
        rows_per_point=16,
        seed=2,
        point_shape=[16],
    )
    bursts = store_measurement(
        db,
        scan.id,
        "Scope bursts",
        Layout.build(["signal (V)"], ["delay (s)"]),
        [np.array(rows) for rows in ([3, 1, 7], [2], [5, 4, 1, 1])],
        rows_per_point=None,
        seed=3,
    )
    return StoredScan(db.get_scan(scan.id), [iv, spectrum, bursts])


def expected_metadata(db: DatabaseService, scan: Scan, measurement: StoredMeasurement) -> dict:
    """Every metadata key with its value, as the formats must write it."""
    stored = db.get_scan(scan.id)
    measurement_object = next(
        m for m in db.get_measurement_objects(scan.id) if m.name == measurement.name
    )
    return {
        "scan_id": stored.scan_id,
        "scan_name": SCAN_NAME,
        "project": "Graphene",
        "sample_id": "S-042",
        "operator": "ada",
        "status": "completed",
        "scan_type": "IV",
        "job_type": "transport",
        "computer_name": stored.computer_name,
        "created_at": stored.created_at.isoformat(),
        "started_at": stored.started_at.isoformat(),
        "completed_at": stored.completed_at.isoformat(),
        "instrument_settings": json.dumps(INSTRUMENT_SETTINGS, sort_keys=True),
        "driver_versions": "{}",
        "scan_tree": json.dumps(SCAN_TREE, sort_keys=True),
        "pybirch_version": __version__,
        "measurement": measurement.name,
        "instrument": "",
        "point_shape": json.dumps(measurement_object.point_shape)
        if measurement_object.point_shape
        else "",
        "columns": json.dumps(measurement.layout.to_json(), sort_keys=True),
    }


def assert_identical(actual: np.ndarray, expected: np.ndarray, label: str) -> None:
    """Same dtype and the same bits in every value (NaN, -0.0 and subnormals included)."""
    assert actual.dtype == expected.dtype, label
    assert actual.shape == expected.shape, label
    assert np.array_equal(actual, expected, equal_nan=True), label
    assert actual.tobytes() == expected.tobytes(), label


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    """An empty directory for exports (the SQLite database lives beside it)."""
    directory = tmp_path / "exports"
    directory.mkdir()
    return directory


# -- reading each format back ----------------------------------------------------------


def read_csv(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    metadata = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("# "):
                break
            key, value = line[2:].rstrip("\n").split(": ", 1)
            metadata[key] = value
    frame = pd.read_csv(path, comment="#")
    return metadata, {label: frame[label].to_numpy() for label in frame.columns}


def read_parquet(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    table = pq.read_table(path)
    metadata = {key.decode(): value.decode() for key, value in table.schema.metadata.items()}
    return metadata, {name: table.column(name).to_numpy() for name in table.column_names}


def read_hdf5_group(path: Path, group_name: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    with h5py.File(path) as file:
        group = file[group_name]
        metadata = {**file.attrs, **group.attrs}
        columns = {group[name].attrs["label"]: group[name][...] for name in group}
    return metadata, columns


def check_round_trip(
    metadata: dict[str, str],
    columns: dict[str, np.ndarray],
    measurement: StoredMeasurement,
    expected_meta: dict[str, str],
) -> None:
    check_columns(columns, measurement)
    assert metadata == expected_meta


def check_columns(columns: dict[str, np.ndarray], measurement: StoredMeasurement) -> None:
    assert list(columns) == measurement.labels
    for label in measurement.labels:
        assert_identical(columns[label], measurement.expected[label], label)


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ["csv", "parquet"])
def test_file_per_measurement_formats_give_back_every_value(db, output_dir, format_name):
    stored = store_scan(db)
    reader = {"csv": read_csv, "parquet": read_parquet}[format_name]

    paths = export_scan(db, stored.scan.scan_id, output_dir / "out", format_name)

    suffix = FORMATS[format_name].suffix
    assert [path.name for path in paths] == [
        f"{FILE_STEM}_Multimeter{suffix}",
        f"{FILE_STEM}_Spectrometer{suffix}",
        f"{FILE_STEM}_Scope_bursts{suffix}",
    ]
    for path, measurement in zip(paths, stored.measurements, strict=True):
        metadata, columns = reader(path)
        check_round_trip(
            metadata, columns, measurement, expected_metadata(db, stored.scan, measurement)
        )


def test_csv_header_is_metadata_lines_then_labels(db, output_dir):
    stored = store_scan(db)

    (path,) = export_scan(db, stored.scan.id, output_dir, "csv", measurement="Spectrometer")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# scan_id: {stored.scan.scan_id}"
    assert lines[1] == f"# scan_name: {SCAN_NAME}"
    header = lines[len(expected_metadata(db, stored.scan, stored.measurements[1]))]
    assert header == "wavelength (nm),intensity (a.u.),x (mm),y (mm),timestamp,point_index"


def test_hdf5_holds_every_measurement_of_the_scan_in_one_file(db, output_dir):
    stored = store_scan(db)

    (path,) = export_scan(db, stored.scan.scan_id, output_dir, "hdf5")

    assert path == output_dir / f"{FILE_STEM}.h5"
    with h5py.File(path) as file:
        assert list(file) == [m.name for m in stored.measurements]
        voltage = file["Multimeter"]["voltage (V)"]
        assert voltage.attrs["units"] == "V"
        assert voltage.attrs["kind"] == "data"
        assert file["Spectrometer"]["y (mm)"].attrs["units"] == "mm"
        assert file["Spectrometer"]["point_index"].dtype == np.int64
    for measurement in stored.measurements:
        metadata, columns = read_hdf5_group(path, measurement.name)
        check_round_trip(
            metadata, columns, measurement, expected_metadata(db, stored.scan, measurement)
        )


def test_parquet_writes_a_row_group_per_stored_chunk_with_units(db, output_dir):
    stored = store_scan(db)

    paths = export_scan(db, stored.scan.scan_id, output_dir, "parquet")

    for path, measurement in zip(paths, stored.measurements, strict=True):
        parquet = pq.ParquetFile(path)
        assert parquet.metadata.num_row_groups == measurement.chunk_count
        field = parquet.schema_arrow.field(measurement.layout.labels[0])
        assert field.metadata[b"units"] == measurement.layout.columns[0].unit.encode()
        assert field.metadata[b"kind"] == b"data"


@pytest.mark.parametrize("format_name", list(FORMATS))
def test_a_measurement_without_rows_exports_its_columns_and_metadata(db, output_dir, format_name):
    scan = db.create_scan("empty run")
    layout = Layout.build(["voltage (V)"], ["x (mm)"])
    db.create_measurement_object(scan.id, "Multimeter", layout)

    (path,) = export_scan(db, scan.scan_id, output_dir, format_name)

    if format_name == "csv":
        metadata, columns = read_csv(path)
    elif format_name == "parquet":
        metadata, columns = read_parquet(path)
    else:
        metadata, columns = read_hdf5_group(path, "Multimeter")
    assert metadata["scan_id"] == scan.scan_id
    assert metadata["measurement"] == "Multimeter"
    assert list(columns) == ["voltage (V)", "x (mm)", "timestamp", "point_index"]
    assert all(len(values) == 0 for values in columns.values())


@pytest.mark.parametrize("format_name", list(FORMATS))
def test_odd_names_keep_their_labels_and_get_safe_file_names(db, output_dir, format_name):
    scan = db.create_scan("run #3: ü")
    layout = Layout.build(["R/θ (V/rad)", "x, y (mm)"])
    measurement = store_measurement(
        db, scan.id, "Lock-in/X", layout, [np.ones(4, dtype=np.int64)], rows_per_point=1, seed=4
    )

    (path,) = export_scan(db, scan.scan_id, output_dir, format_name)

    if format_name == "hdf5":
        assert path.name == "run_3.h5"
        metadata, columns = read_hdf5_group(path, "Lock-in_X")
    else:
        assert path.name == f"run_3_Lock-in_X{FORMATS[format_name].suffix}"
        metadata, columns = (read_csv if format_name == "csv" else read_parquet)(path)
    assert metadata["scan_name"] == "run #3: ü"
    assert metadata["measurement"] == "Lock-in/X"
    check_columns(columns, measurement)


# -- choosing what to export and where -------------------------------------------------


def test_a_single_measurement_goes_to_the_file_path_given(db, output_dir):
    stored = store_scan(db)
    target = output_dir / "nested" / "iv.csv"

    paths = export_scan(db, str(stored.scan.id), target, "csv", measurement="Multimeter")

    assert paths == [target]
    _, columns = read_csv(target)
    assert_identical(columns["voltage (V)"], stored.measurements[0].expected["voltage (V)"], "V")


def test_several_measurements_to_one_csv_file_is_refused(db, output_dir):
    stored = store_scan(db)

    with pytest.raises(ExportError, match="give a directory"):
        export_scan(db, stored.scan.scan_id, output_dir / "all.csv", "csv")
    assert list(output_dir.iterdir()) == []


def test_progress_counts_every_row_up_to_the_total(db, output_dir):
    stored = store_scan(db)
    total = sum(len(m.expected["point_index"]) for m in stored.measurements)
    reports = []

    export_scan(db, stored.scan.scan_id, output_dir, "hdf5", progress=lambda *r: reports.append(r))

    assert reports[0] == (0, total)
    assert reports[-1] == (total, total)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert len(reports) == 1 + sum(m.chunk_count for m in stored.measurements)


def test_unknown_format_scan_and_measurement_are_clear_errors(db, output_dir):
    stored = store_scan(db)

    with pytest.raises(ExportError, match="unknown export format 'xlsx'"):
        export_scan(db, stored.scan.scan_id, output_dir, "xlsx")
    with pytest.raises(ExportNotFoundError, match="scan 'feedbeef' not found"):
        export_scan(db, "feedbeef", output_dir, "csv")
    with pytest.raises(ExportNotFoundError, match="scan '99999999999' not found"):
        export_scan(db, "99999999999", output_dir, "csv")
    with pytest.raises(ExportNotFoundError, match="scan 424242 not found"):
        export_scan(db, 424242, output_dir, "csv")
    with pytest.raises(ExportNotFoundError, match="measurement 'Lock-in"):
        export_scan(db, stored.scan.scan_id, output_dir, "csv", measurement="Lock-in")
    with pytest.raises(ExportError, match="has no measurements"):
        export_scan(db, db.create_scan("nothing measured").scan_id, output_dir, "csv")
    assert list(output_dir.iterdir()) == []


@pytest.mark.parametrize("format_name", list(FORMATS))
def test_an_unwritable_path_is_a_clear_error_and_leaves_no_file(db, output_dir, format_name):
    stored = store_scan(db)
    blocker = output_dir / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(ExportError, match="cannot write"):
        export_scan(db, stored.scan.scan_id, blocker / "out", format_name)
    assert list(output_dir.iterdir()) == [blocker]


# -- memory ----------------------------------------------------------------------------

BIG_ROWS = 5_000_000
#: The reader fetches the payloads of up to 16 chunks per round trip (STREAM_GROUP), so chunks
#: must be small enough that 16 of them stay well under a quarter of the data.
BIG_CHUNKS = 200


@pytest.fixture(scope="module")
def big_scan(tmp_path_factory) -> tuple[str, str, int]:
    """(database URL, scan id, bytes of data): 2 columns x 5,000,000 rows in 200 chunks."""
    url = f"sqlite:///{tmp_path_factory.mktemp('big')}/big.db"
    rng = np.random.default_rng(7)
    rows = BIG_ROWS // BIG_CHUNKS
    with DatabaseService(url) as db:
        scan = db.create_scan("big")
        layout = Layout.build(["a (V)", "b (A)"])
        measurement = db.create_measurement_object(scan.id, "noise", layout)
        for index in range(BIG_CHUNKS):
            first = index * rows
            columns = [rng.normal(size=rows), rng.normal(size=rows), 1.7e9 + np.arange(rows) / 1e3]
            chunk = ChunkData(first, first, columns, rows, rows)
            db.store_chunks(measurement.id, [encode(chunk, layout)])
        assert db.get_row_count(measurement.id) == BIG_ROWS
    return url, scan.scan_id, 2 * BIG_ROWS * 8


@pytest.mark.slow
@pytest.mark.timeout(600)  # CSV formats 5,000,000 rows in Python, under tracemalloc
@pytest.mark.parametrize("format_name", list(FORMATS))
def test_export_memory_stays_flat_however_long_the_measurement(big_scan, output_dir, format_name):
    url, scan_id, data_bytes = big_scan
    with DatabaseService(url) as db:
        tracemalloc.start()
        try:
            (path,) = export_scan(db, scan_id, output_dir, format_name)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 0.25 * data_bytes, f"peak {peak / 1e6:.1f} MB for {data_bytes / 1e6:.0f} MB"
    assert exported_rows(path, format_name) == BIG_ROWS
    path.unlink()


def exported_rows(path: Path, format_name: str) -> int:
    """Rows in an exported file, counted without loading it."""
    if format_name == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if format_name == "hdf5":
        with h5py.File(path) as file:
            return len(next(iter(file.values()))["point_index"])
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if not line.startswith("#")) - 1  # less the header


# -- command line ----------------------------------------------------------------------


@pytest.mark.parametrize("format_name", list(FORMATS))
def test_cli_export_writes_the_files_and_prints_their_paths(
    db, database_url, output_dir, format_name
):
    stored = store_scan(db)
    output = output_dir / "exported"

    result = CliRunner().invoke(
        cli,
        [
            "export",
            stored.scan.scan_id,
            "--format",
            format_name,
            "--output",
            str(output),
            "--database",
            database_url,
        ],
    )

    assert result.exit_code == 0, result.output
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(paths) == sorted(output.iterdir())
    assert len(paths) == (1 if format_name == "hdf5" else len(stored.measurements))


def test_cli_export_of_one_measurement_by_database_id(db, database_url, output_dir):
    stored = store_scan(db)
    target = output_dir / "bursts.parquet"

    result = CliRunner().invoke(
        cli,
        [
            *("export", str(stored.scan.id), "--format", "parquet", "--output", str(target)),
            *("--measurement", "Scope bursts", "--database", database_url),
        ],
    )

    assert result.exit_code == 0, result.output
    _, columns = read_parquet(target)
    expected = stored.measurement("Scope bursts").expected
    assert_identical(columns["signal (V)"], expected["signal (V)"], "signal")


def test_cli_export_of_an_unknown_scan_exits_1_with_a_message(db, database_url, output_dir):
    result = CliRunner().invoke(
        cli, ["export", "0badc0de", "--output", str(output_dir), "--database", database_url]
    )

    assert result.exit_code == 1
    assert "scan '0badc0de' not found" in result.output
    assert "Traceback" not in result.output
    assert list(output_dir.iterdir()) == []


def test_cli_db_upgrade_creates_the_tables_and_current_prints_the_head(output_dir):
    url = f"sqlite:///{output_dir}/fresh.db"
    runner = CliRunner()

    before = runner.invoke(cli, ["db", "current", "--database", url])
    upgraded = runner.invoke(cli, ["db", "upgrade", "--database", url])
    current = runner.invoke(cli, ["db", "current", "--database", url])

    assert before.exit_code == 0, before.output
    assert "no PyBirch tables" in before.output
    assert upgraded.exit_code == 0, upgraded.output
    head = migrate.head_revision()
    assert f"upgraded from an empty database to {head}" in upgraded.output
    engine = create_database_engine(url)
    try:
        assert {"scans", "measurement_chunks"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert current.exit_code == 0, current.output
    assert current.stdout.strip() == f"{head} (head)"


def test_cli_db_upgrade_of_a_current_postgres_database_changes_nothing(postgres_url):
    runner = CliRunner()

    first = runner.invoke(cli, ["db", "upgrade", "--database", postgres_url])
    again = runner.invoke(cli, ["db", "upgrade", "--database", postgres_url])

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert f"already at revision {migrate.head_revision()}" in again.output


def test_cli_db_upgrade_of_an_unreachable_server_exits_1_with_a_message():
    result = CliRunner().invoke(
        cli, ["db", "upgrade", "--database", "postgresql://nobody@127.0.0.1:9/none"]
    )

    assert result.exit_code == 1
    assert "cannot use the database" in result.output
    assert "Traceback" not in result.output


def test_metadata_times_are_iso_and_parse_back(db, output_dir):
    stored = store_scan(db)

    (path,) = export_scan(db, stored.scan.scan_id, output_dir, "parquet", measurement="Multimeter")

    metadata, _ = read_parquet(path)
    assert datetime.fromisoformat(metadata["started_at"]) == stored.scan.started_at
    assert datetime.fromisoformat(metadata["completed_at"]).tzinfo is not None
