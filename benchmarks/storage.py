"""Storage throughput: PyBirch's database path against plain sqlite3 / psycopg blob writes.

Run: ``.venv/bin/python benchmarks/storage.py``

Options:

- ``--quick``: a smoke run of a few seconds: a tenth of the sizes, one repeat (its
  verdicts are printed but the goals are meant for the full sizes).
- ``--sqlite-only``: skip PostgreSQL.
- ``--postgres URL``: the PostgreSQL server on which a throwaway database is created for
  the run and dropped at its end (default ``$PYBIRCH_BENCH_POSTGRES_URL`` or
  ``postgresql://postgres@127.0.0.1:5432/postgres``).
- ``--figures 1,4``: run only some figures.
- ``--repeats N``: best of N for the throughput figures (default 3; the full run takes
  about 1.5 minutes on 2 cores, 2.5 with ``--repeats 5``).

Every figure runs on SQLite (a file in a temporary directory, which also holds
``PYBIRCH_DATA_DIR`` and so the spool) and on PostgreSQL, and is compared with a baseline
measured in the same run on the same database engine: the plain DB-API driver
(``sqlite3`` on its own file with PyBirch's pragmas, WAL and ``synchronous=NORMAL``;
``psycopg`` on a table in the throwaway database) inserting the same raw float64 bytes as
one uncompressed blob per batch, with the same commit pattern as the PyBirch path it is
compared with. Throughput figures are the best of N runs, PyBirch's and the baseline's
runs alternating so both meet the same machine noise; the ratio is PyBirch's speed over
the baseline's (1.0 = as fast, 0.5 = half as fast). PostgreSQL runs with its server's
settings (``synchronous_commit`` is printed: with ``on`` every commit waits for the WAL
flush, on both sides). Data columns hold
random floats so compression cannot flatter PyBirch; positions are a linear sweep and
timestamps increase with jitter, as a scan produces them. MB = 10**6 bytes of float64.

1. A 1-D scan of 100,000 points (FakeCurrentSource over np.linspace(0, 1e-3, n), a
   FakeMultimeter with noise 0 on one SimulatedSample) through ``DatabaseQueue``: wall
   time from ``queue.start()`` to ``queue.wait_for_completion()`` returning, which
   includes the commit of every point; after each run the scan's record must say
   ``completed`` and hold all 100,000 points with the commanded positions.
   Baseline: a bare loop making the same instrument calls, inserting each 1,000 points
   (voltage, current, timestamp) as one blob and committing every 64 blobs, as often as
   ``DataManager`` commits at most. Context: the same scan through a plain ``Queue`` (no
   extension, nothing stored) against the bare loop alone.
2. Scalar batches of 1,000 points x (4 data columns + 1 position + timestamp), 400 of
   them (19 MB of float64): ``encode`` + ``DatabaseService.store_chunks``, one
   transaction per batch, against one blob insert and one commit per batch (goal: at least
   half the baseline's MB/s). Then (2') the same batches through
   ``DataManager.write_batch`` + ``flush`` (spool, encoding, writer thread, up to 64 chunks
   per transaction) against a baseline committing every 64 blobs. Every run writes a new
   measurement (a rewrite of stored chunks would be skipped); the first is read back and
   compared.
3. Array points: a spectrum of 1,024 float64 per point (``rows_per_point=1024``), 100
   points per batch, 100 batches (82 MB); the same two paths and baselines as figure 2
   (goal: at least 100 MB/s on SQLite).
4. Reading back 10 million values: ``read_measurement`` of 2.5 M rows x 4 data columns
   (of a 6-column measurement written as ``DataManager`` writes a scan: 1,000-row batches,
   the 64 of one commit merged into one chunk) into numpy, against reading the
   baseline's blobs (all 6 columns, as written) and copying the same 4 columns into numpy
   arrays; both results are compared with the data written (goal: at least 500 MB/s).
5. Listing 10,000 scans (4 labs, 70 % completed, the rest aborted, failed, interrupted
   or queued): ``DatabaseService.search_scans`` filtered by lab and status ``completed``,
   one page of 50 and the total count, median of 20 calls, against the same two SQL
   queries (page of the listed columns, count) through the DB-API driver (goal: under
   50 ms).
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blosc2
import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from pybirch.database import DatabaseService
from pybirch.database.models import Scan as ScanRecord
from pybirch.database.storage import ChunkData, Layout, encode
from pybirch.database.storage.codec import concatenate
from pybirch.database_integration import DatabaseQueue, DataManager
from pybirch.database_integration.managers.data_manager import MAX_CHUNKS_PER_COMMIT
from pybirch.instruments import Measurement
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeMultimeter,
    FakeStage,
    SimulatedSample,
)
from pybirch.queue import Queue
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanState, ScanTree
from pybirch.scan.batch import DataBatch, MeasurementColumns, PositionPass
from pybirch.scan.tree import MeasurementPlan

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MB = 1e6
#: Points per batch, as a scan buffers them by default.
BATCH_POINTS = 1_000
SPECTRUM_PIXELS = 1_024
SPECTRA_PER_BATCH = 100
SCALAR_DATA_COLUMNS = 4
SEARCH_PAGE = 50
SQLITE, POSTGRES = "SQLite", "PostgreSQL"


@dataclass(frozen=True)
class Sizes:
    """How big each figure's workload is."""

    scan_points: int
    scalar_batches: int
    spectrum_batches: int
    read_rows: int
    scans: int
    search_calls: int
    repeats: int


FULL = Sizes(100_000, 400, 100, 2_500_000, 10_000, 20, 3)
QUICK = Sizes(10_000, 50, 10, 250_000, 1_000, 20, 1)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """What a figure must reach, and on which databases it is judged."""

    text: str
    met: Callable[[float, float], bool]  # (value, speed ratio) -> reached
    judged_on: tuple[str, ...] = (SQLITE, POSTGRES)


@dataclass
class Figure:
    """One line of the table: a value and its baseline per database."""

    label: str
    unit: str
    goal: Goal | None
    #: "rate" (higher is better) or "latency" (lower is better).
    kind: str = "rate"
    #: Measured once, without a database (shown in the SQLite column only).
    database_free: bool = False
    results: dict[str, tuple[float, float]] = field(default_factory=dict)

    def ratio(self, backend: str) -> float:
        """PyBirch's speed over the baseline's."""
        value, baseline = self.results[backend]
        return value / baseline if self.kind == "rate" else baseline / value

    def verdict(self, backend: str) -> str:
        if self.goal is None or self.database_free:
            return "-"
        if backend not in self.results:
            return "skipped"
        if backend not in self.goal.judged_on:
            return "-"
        return "PASS" if self.goal.met(self.results[backend][0], self.ratio(backend)) else "FAIL"


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:,.0f} {unit}"


def print_table(figures: list[Figure], backends: Sequence[str]) -> None:
    """Figure, SQLite, PostgreSQL, baselines, ratios, goal, pass/fail."""
    names = (SQLITE, POSTGRES)
    widths = (47, 15, 15, 31, 13, 27)
    titles = ("figure", "SQLite", "PostgreSQL", "baseline SQLite | PG", "ratio S | PG", "goal")
    header = "".join(
        f"{title:<{width}}" if i in (0, 3, 4, 5) else f"{title:>{width}}  "
        for i, (title, width) in enumerate(zip(titles, widths, strict=True))
    )
    header += "pass S | PG"
    print()
    print(header)
    print("-" * len(header))
    for figure in figures:

        def cell(backend: str, index: int, figure: Figure = figure) -> str:
            if backend not in figure.results:
                return "-"
            return _number(figure.results[backend][index], figure.unit)

        ratios = " | ".join(f"{figure.ratio(b):.2f}" if b in figure.results else "-" for b in names)
        row = (
            figure.label,
            cell(SQLITE, 0),
            cell(POSTGRES, 0),
            " | ".join(cell(b, 1) for b in names),
            ratios,
            figure.goal.text if figure.goal else "(context)",
        )
        print(
            "".join(
                f"{text:<{width}}" if i in (0, 3, 4, 5) else f"{text:>{width}}  "
                for i, (text, width) in enumerate(zip(row, widths, strict=True))
            )
            + " | ".join(figure.verdict(b) for b in names)
        )
    print()
    print(
        "ratio = PyBirch's speed / the baseline's (latency: baseline ms / PyBirch ms); "
        "pass '-' = no goal on that database"
    )
    missed = [
        f"{figure.label.split()[0]} on {b}"
        for figure in figures
        for b in backends
        if figure.verdict(b) == "FAIL"
    ]
    print("all goals met" if not missed else f"goals missed: {', '.join(missed)}")


def describe(backends: list[Backend], sizes: Sizes) -> None:
    """What the figures were measured on."""
    versions = [f"SQLite {sqlite3.sqlite_version}", f"blosc2 {blosc2.__version__}"]
    for backend in backends:
        if backend.name == POSTGRES:
            with backend.connect_pybirch() as connection:
                (version,) = connection.execute("SHOW server_version").fetchone()
                (sync,) = connection.execute("SHOW synchronous_commit").fetchone()
            versions.append(f"PostgreSQL {version} (synchronous_commit={sync})")
    print(
        f"{', '.join(versions)}; {os.cpu_count()} CPUs; best of {sizes.repeats} "
        f"(PyBirch and baseline alternating)"
    )


# -- timing ------------------------------------------------------------------------------


def paired_best(
    repeats: int, ours: Callable[[int], float], baseline: Callable[[int], float]
) -> tuple[float, float]:
    """Best of N of PyBirch and of its baseline, run alternately so both meet the same noise."""
    ours_s, baseline_s = [], []
    for i in range(repeats):
        ours_s.append(ours(i))
        baseline_s.append(baseline(i))
    return min(ours_s), min(baseline_s)


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes."""
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def paired_median_ms(
    calls: int, ours: Callable[[], object], baseline: Callable[[], object]
) -> tuple[float, float]:
    """Median milliseconds of ``calls`` calls of each, alternating, after one warm-up each."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(calls + 1):
        for function, spent in zip((ours, baseline), times, strict=True):
            started = time.perf_counter()
            function()
            if i:
                spent.append(time.perf_counter() - started)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


# -- databases ---------------------------------------------------------------------------


class BlobStore:
    """The baseline: one table of (id, payload) rows through the plain DB-API driver."""

    def __init__(self, connection: Any, table: str, placeholder: str, blob_type: str) -> None:
        self.connection = connection
        self.table = table
        self._insert = f"INSERT INTO {table} (payload) VALUES ({placeholder})"
        id_type = "INTEGER PRIMARY KEY" if placeholder == "?" else "BIGSERIAL PRIMARY KEY"
        connection.execute(f"CREATE TABLE {table} (id {id_type}, payload {blob_type} NOT NULL)")
        connection.commit()

    def insert(self, payload: bytes) -> None:
        self.connection.execute(self._insert, (payload,))

    def commit(self) -> None:
        self.connection.commit()

    def payloads(self) -> Iterator[bytes]:
        rows = self.connection.execute(f"SELECT payload FROM {self.table} ORDER BY id")
        return (row[0] for row in rows)


@dataclass
class Backend:
    """One database under test: PyBirch's service and the baseline's plain connection."""

    name: str
    db: DatabaseService
    #: A new plain DB-API connection for the baseline's tables.
    connect_baseline: Callable[[], Any]
    #: A new plain DB-API connection to PyBirch's own tables (figure 5's baseline).
    connect_pybirch: Callable[[], Any]
    placeholder: str
    blob_type: str
    _tables: int = 0
    _connections: list[Any] = field(default_factory=list)

    def blob_store(self) -> BlobStore:
        """A new, empty baseline table on its own connection."""
        self._tables += 1
        connection = self.connect_baseline()
        self._connections.append(connection)
        table = f"baseline_blobs_{self._tables}"
        return BlobStore(connection, table, self.placeholder, self.blob_type)

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self.db.close()


def sqlite_backend(directory: Path) -> Backend:
    """PyBirch on a SQLite file; the baseline on a second file with the same pragmas."""
    db = DatabaseService(directory / "pybirch.db")
    baseline_path = directory / "baseline.db"

    def connect_baseline() -> sqlite3.Connection:
        connection = sqlite3.connect(baseline_path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    return Backend(
        SQLITE, db, connect_baseline, lambda: sqlite3.connect(directory / "pybirch.db"), "?", "BLOB"
    )


def postgres_backend(url: str) -> Backend:
    """PyBirch and the baseline in the same throwaway PostgreSQL database."""
    db = DatabaseService(url, auto_upgrade=True)
    return Backend(
        POSTGRES, db, lambda: psycopg.connect(url), lambda: psycopg.connect(url), "%s", "BYTEA"
    )


class ThrowawayPostgres:
    """A uniquely named PostgreSQL database, created on enter and dropped (forced) on exit."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url).set(drivername="postgresql")
        self.name = f"pybirch_bench_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = self.server_url.set(database=self.name).render_as_string(hide_password=False)

    def _execute(self, statement: sql.Composable) -> None:
        server = self.server_url.render_as_string(hide_password=False)
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as connection:
            connection.execute(statement)

    def __enter__(self) -> ThrowawayPostgres:
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
        )


# -- realistic data ----------------------------------------------------------------------


def timestamps(count: int, rng: np.random.Generator, mean_interval: float = 1e-3) -> np.ndarray:
    """Increasing epoch seconds with jitter, as ``time.time()`` at each point gives them."""
    return time.time() + np.cumsum(rng.exponential(mean_interval, count))


def scalar_layout() -> Layout:
    data = [f"voltage {i} (V)" for i in range(1, SCALAR_DATA_COLUMNS + 1)]
    return Layout.build(data, ["current (A)"])


def scalar_chunks(batches: int, rng: np.random.Generator) -> list[ChunkData]:
    """Batches of 1,000 single-row points: random readings, a sweep, timestamps."""
    points = batches * BATCH_POINTS
    data = rng.normal(1.0, 0.1, size=(SCALAR_DATA_COLUMNS, points))
    positions = np.linspace(0.0, 1e-3, points)
    times = timestamps(points, rng)
    chunks = []
    for start in range(0, points, BATCH_POINTS):
        end = start + BATCH_POINTS
        columns = [*data[:, start:end], positions[start:end], times[start:end]]
        chunks.append(ChunkData(start, start, list(columns), BATCH_POINTS, BATCH_POINTS))
    return chunks


def spectrum_layout() -> Layout:
    return Layout.build(["intensity (counts)"], ["x (mm)"])


def spectrum_chunks(batches: int, rng: np.random.Generator) -> list[ChunkData]:
    """Batches of 100 spectra of 1,024 pixels each, taken along a line."""
    points = batches * SPECTRA_PER_BATCH
    positions = np.linspace(0.0, 50.0, points)
    times = timestamps(points, rng, mean_interval=0.1)
    rows = SPECTRA_PER_BATCH * SPECTRUM_PIXELS
    chunks = []
    for i, start in enumerate(range(0, points, SPECTRA_PER_BATCH)):
        end = start + SPECTRA_PER_BATCH
        intensity = rng.normal(1000.0, 30.0, rows)
        chunks.append(
            ChunkData(
                first_row=i * rows,
                first_point=start,
                columns=[intensity, positions[start:end], times[start:end]],
                row_count=rows,
                point_count=SPECTRA_PER_BATCH,
                rows_per_point=SPECTRUM_PIXELS,
            )
        )
    return chunks


def raw_bytes(chunk: ChunkData) -> int:
    return sum(column.nbytes for column in chunk.columns if column is not None)


def blob(chunk: ChunkData) -> bytes:
    """The chunk's columns, raw and uncompressed, one after the other."""
    return b"".join(column for column in chunk.columns if column is not None)


class ColumnsMeasurement(Measurement):
    """A stand-in instrument declaring the columns of pre-made batches (never measured)."""

    def __init__(self, name: str, labels: list[str]) -> None:
        super().__init__(name)
        self.data_columns = np.array([label.split(" (")[0] for label in labels])
        self.data_units = np.array([label.split(" (")[1].rstrip(")") for label in labels])

    def perform_measurement(self) -> np.ndarray:
        raise NotImplementedError("only used to describe pre-made batches")


def as_batches(chunks: list[ChunkData], layout: Layout) -> list[DataBatch]:
    """The engine's batches holding the same rows as ``chunks`` (what a scan hands over)."""
    meter = ColumnsMeasurement("meter", layout.data_labels)
    (position,) = layout.position_labels
    source = FakeCurrentSource("source") if position == "current (A)" else FakeStage("stage")
    positions = np.concatenate([chunk.columns[-2] for chunk in chunks])
    plan = MeasurementPlan(MeasurementItem(meter), (MovementItem(source, positions, children=[]),))
    passes = [PositionPass(0, (), positions)]
    data_count = len(layout.data_labels)
    batches = []
    for chunk in chunks:
        rows = np.column_stack(chunk.columns[:data_count])  # the engine's row-major readings
        per_point = (
            None
            if chunk.rows_per_point == 1
            else np.full(chunk.point_count, chunk.rows_per_point, dtype=np.int64)
        )
        batches.append(
            DataBatch(
                MeasurementColumns.from_plan(plan),
                chunk.first_point,
                rows.tobytes(),
                chunk.columns[-1].tolist(),
                per_point,
                passes,
            )
        )
    if batches[0].position_columns != layout.position_labels:
        position_label = layout.position_labels
        raise RuntimeError(f"batch positions {batches[0].position_columns} != {position_label}")
    return batches


def new_scan_record(db: DatabaseService, name: str) -> int:
    return db.create_scan(name, project_name="benchmark").id


# -- figure 1: a scan through DatabaseQueue ------------------------------------------------


def iv_scan(points: int) -> tuple[Scan, FakeCurrentSource, FakeMultimeter, np.ndarray]:
    sample = SimulatedSample()
    source = FakeCurrentSource("Current Source", sample=sample)
    meter = FakeMultimeter("Multimeter", sample=sample, noise=0.0)
    positions = np.linspace(0.0, 1e-3, points)
    tree = ScanTree([MovementItem(source, positions, children=[MeasurementItem(meter)])])
    return Scan(ScanSettings("benchmark", "iv sweep", scan_tree=tree)), source, meter, positions


def database_queue_run(backend: Backend, points: int, run: int) -> float:
    """Seconds from start() to wait_for_completion() returning; checks every point stored."""
    db = backend.db
    scan, _source, _meter, positions = iv_scan(points)
    queue = DatabaseQueue(f"bench-{uuid.uuid4().hex[:8]}-{run}", db, operator="benchmark")
    handle = queue.enqueue(scan)
    gc.collect()
    started = time.perf_counter()
    queue.start()
    finished = queue.wait_for_completion()
    elapsed = time.perf_counter() - started
    queue.close()
    record_id = queue.db_scan_id(handle.scan_id)
    stored = db.get_data_point_count(record_id)
    status = db.get_scan(record_id).status
    data = db.read_scan_data(record_id)
    if not (finished and handle.state is ScanState.COMPLETED and status == "completed"):
        raise RuntimeError(f"{backend.name}: scan ended {handle.state} / {status}: {scan.error!r}")
    voltages = data["voltage (V)"]
    if (
        stored != points
        or not np.array_equal(data["current (A)"], positions)
        or not (len(voltages) == points and np.isfinite(voltages).all())
    ):
        raise RuntimeError(f"{backend.name}: {stored} of {points} points stored, or wrong")
    return elapsed


def plain_queue_run(points: int) -> float:
    scan, *_ = iv_scan(points)
    queue = Queue(f"plain-{uuid.uuid4().hex[:8]}")
    handle = queue.enqueue(scan)
    gc.collect()
    started = time.perf_counter()
    queue.start()
    queue.wait_for_completion()
    elapsed = time.perf_counter() - started
    if handle.state is not ScanState.COMPLETED:
        raise RuntimeError(f"plain queue scan ended {handle.state}: {scan.error!r}")
    return elapsed


def bare_loop(points: int, store: BlobStore | None) -> float:
    """The same instrument calls; with ``store``, each 1,000 points stored as one blob."""
    _scan, source, meter, positions = iv_scan(points)
    source.connect()
    meter.connect()
    xs = positions.tolist()
    gc.collect()
    started = time.perf_counter()
    readings: list[np.ndarray] = []
    times: list[float] = []
    blobs = 0
    for i, x in enumerate(xs):
        source.position = x
        readings.append(meter.perform_measurement())
        times.append(time.time())
        if store is not None and len(readings) == BATCH_POINTS:
            first = i + 1 - BATCH_POINTS
            store.insert(
                b"".join((np.concatenate(readings), positions[first : i + 1], np.array(times)))
            )
            readings, times = [], []
            blobs += 1
            if blobs % MAX_CHUNKS_PER_COMMIT == 0:
                store.commit()
    if store is not None:
        store.commit()
    return time.perf_counter() - started


def figure_scan(backends: list[Backend], sizes: Sizes) -> list[Figure]:
    n = sizes.scan_points
    stored = Figure(
        f"1  1-D scan, DatabaseQueue ({n:,} pts)",
        "pts/s",
        Goal(">= 200,000 pts/s (SQLite)", lambda v, r: v >= 200_000, (SQLITE,)),
    )
    engine = Figure("1' same scan, plain Queue (no database)", "pts/s", None, database_free=True)
    for backend in backends:
        store = backend.blob_store()
        ours, base = paired_best(
            sizes.repeats,
            lambda i, b=backend: database_queue_run(b, n, i),
            lambda _i, s=store: bare_loop(n, s),
        )
        stored.results[backend.name] = (n / ours, n / base)
        print(f"  {backend.name}: DatabaseQueue {n / ours:,.0f} pts/s, bare+blobs {n / base:,.0f}")
    plain, bare = paired_best(
        sizes.repeats, lambda _i: plain_queue_run(n), lambda _i: bare_loop(n, None)
    )
    engine.results[SQLITE] = (n / plain, n / bare)
    print(f"  engine only: Queue {n / plain:,.0f} pts/s, bare loop {n / bare:,.0f}")
    return [stored, engine]


# -- figures 2 and 3: writing batches ------------------------------------------------------


def store_chunks_run(
    db: DatabaseService, scan_id: int, layout: Layout, chunks: list[ChunkData], run: int
) -> float:
    """encode + store_chunks, one transaction per batch, into a new measurement."""
    shape = None if chunks[0].rows_per_point == 1 else [chunks[0].rows_per_point]
    measurement = db.create_measurement_object(scan_id, f"m{run}", layout, point_shape=shape)

    def write() -> None:
        for chunk in chunks:
            db.store_chunks(measurement.id, [encode(chunk, layout)])

    elapsed = timed(write)
    expected = sum(chunk.row_count for chunk in chunks)
    if db.get_row_count(measurement.id) != expected:
        raise RuntimeError(f"store_chunks stored {db.get_row_count(measurement.id)} rows")
    if run == 0:
        check_equal(db, measurement.id, layout, chunks)
    return elapsed


def check_equal(
    db: DatabaseService, measurement_id: int, layout: Layout, chunks: list[ChunkData]
) -> None:
    """Raise unless the stored data columns equal what was written."""
    data = db.read_measurement(measurement_id)
    for i, label in enumerate(layout.data_labels):
        expected = np.concatenate([chunk.columns[i] for chunk in chunks])
        if not np.array_equal(data[label], expected):
            raise RuntimeError(f"column {label} reads back different from what was written")


def data_manager_run(db: DatabaseService, batches: list[DataBatch], rows: int, run: int) -> float:
    """DataManager.write_batch for every batch, then flush(): spool, encode, commit."""
    scan_id = new_scan_record(db, f"data manager {run}")
    manager = DataManager(db, replay=False)
    total = batches[-1].first_point + batches[-1].point_count

    def write() -> None:
        for batch in batches:
            done = batch.first_point + batch.point_count
            manager.write_batch(scan_id, batch, done, done / total)
        if not manager.flush(60):
            raise RuntimeError("DataManager did not commit within 60 s")

    elapsed = timed(write)
    manager.close()
    if manager.errors:
        raise RuntimeError(f"DataManager errors: {manager.errors}")
    stored = db.get_row_count(db.find_measurement_object(scan_id).id)
    if stored != rows:
        raise RuntimeError(f"DataManager stored {stored} of {rows} rows")
    return elapsed


def blob_run(store: BlobStore, chunks: list[ChunkData], commit_every: int) -> float:
    def write() -> None:
        for i, chunk in enumerate(chunks, 1):
            store.insert(blob(chunk))
            if i % commit_every == 0:
                store.commit()
        store.commit()

    return timed(write)


def figure_writes(
    backends: list[Backend],
    sizes: Sizes,
    number: str,
    label: str,
    layout: Layout,
    chunks: list[ChunkData],
    goal: Goal,
) -> list[Figure]:
    megabytes = sum(raw_bytes(chunk) for chunk in chunks) / MB
    rows = sum(chunk.row_count for chunk in chunks)
    direct = Figure(f"{number}  {label}, store_chunks, 1/commit", "MB/s", goal)
    managed = Figure(f"{number}' {label}, DataManager, <=64/commit", "MB/s", goal)
    batches = as_batches(chunks, layout)
    for backend in backends:
        db = backend.db
        scan_id = new_scan_record(db, label)
        store = backend.blob_store()
        ours, base = paired_best(
            sizes.repeats,
            lambda i, d=db, s=scan_id: store_chunks_run(d, s, layout, chunks, i),
            lambda _i, s=store: blob_run(s, chunks, 1),
        )
        direct.results[backend.name] = (megabytes / ours, megabytes / base)
        store = backend.blob_store()
        ours, base = paired_best(
            sizes.repeats,
            lambda i, d=db: data_manager_run(d, batches, rows, i),
            lambda _i, s=store: blob_run(s, chunks, MAX_CHUNKS_PER_COMMIT),
        )
        managed.results[backend.name] = (megabytes / ours, megabytes / base)
        print(
            f"  {backend.name}: {megabytes:.0f} MB: store_chunks "
            f"{direct.results[backend.name][0]:.0f} MB/s (baseline "
            f"{direct.results[backend.name][1]:.0f}), DataManager {megabytes / ours:.0f} MB/s "
            f"(baseline {megabytes / base:.0f})"
        )
    return [direct, managed]


# -- figure 4: reading back ----------------------------------------------------------------


def figure_read(backends: list[Backend], sizes: Sizes, rng: np.random.Generator) -> list[Figure]:
    rows = sizes.read_rows
    layout = scalar_layout()
    chunks = scalar_chunks(rows // BATCH_POINTS, rng)
    labels = layout.data_labels
    delivered_mb = rows * len(labels) * 8 / MB
    figure = Figure(
        f"4  read {rows * len(labels) / 1e6:g} M values ({rows / 1e6:g} M rows x 4)",
        "MB/s",
        Goal(">= 500 MB/s", lambda v, r: v >= 500),
    )
    expected = [np.concatenate([chunk.columns[i] for chunk in chunks]) for i in range(len(labels))]
    for backend in backends:
        db = backend.db
        scan_id = new_scan_record(db, "read back")
        measurement = db.create_measurement_object(scan_id, "readings", layout)
        store = backend.blob_store()
        for start in range(0, len(chunks), MAX_CHUNKS_PER_COMMIT):
            group = chunks[start : start + MAX_CHUNKS_PER_COMMIT]
            # As DataManager commits a scan: the batches of one commit merged into one chunk.
            db.store_chunks(measurement.id, [encode(concatenate(group), layout)])
            for chunk in group:
                store.insert(blob(chunk))
            store.commit()

        def ours(_i: int, measurement_id: int = measurement.id, db: DatabaseService = db) -> float:
            result: list[Any] = []
            elapsed = timed(
                lambda: result.append(db.read_measurement(measurement_id, columns=labels))
            )
            data = result[0]
            if not all(np.array_equal(data[k], e) for k, e in zip(labels, expected, strict=True)):
                raise RuntimeError("read_measurement returned other values than were written")
            return elapsed

        def base(_i: int, store: BlobStore = store) -> float:
            out = np.empty((len(labels), rows))

            def read() -> None:
                offset = 0
                for payload in store.payloads():
                    block = np.frombuffer(payload, dtype=np.float64).reshape(-1, BATCH_POINTS)
                    out[:, offset : offset + BATCH_POINTS] = block[: len(labels)]
                    offset += BATCH_POINTS

            elapsed = timed(read)
            if not np.array_equal(out[0], expected[0]):
                raise RuntimeError("the baseline read other values than were written")
            return elapsed

        ours_s, base_s = paired_best(sizes.repeats, ours, base)
        figure.results[backend.name] = (delivered_mb / ours_s, delivered_mb / base_s)
        print(
            f"  {backend.name}: read_measurement {figure.results[backend.name][0]:.0f} MB/s, "
            f"baseline {figure.results[backend.name][1]:.0f} MB/s"
        )
    return [figure]


# -- figure 5: listing scans ---------------------------------------------------------------

_HEAVY = {"scan_tree_data", "instrument_settings", "driver_versions", "traceback", "extra_data"}
_STATUSES = ["completed", "aborted", "failed", "interrupted", "queued"]
_STATUS_WEIGHTS = [0.7, 0.12, 0.08, 0.05, 0.05]


def fill_scans(db: DatabaseService, count: int, rng: np.random.Generator) -> tuple[int, int]:
    """``count`` scans over 4 labs with realistic fields; returns (lab id, completed in it)."""
    labs = [db.create_lab(f"lab {i} {uuid.uuid4().hex[:6]}").id for i in range(4)]
    now = datetime.now(UTC)
    lab_of = rng.integers(0, len(labs), count)
    status_of = rng.choice(len(_STATUSES), count, p=_STATUS_WEIGHTS)
    tree = {
        "items": [
            {
                "type": "movement",
                "instrument": {"class": "FakeCurrentSource", "name": "Current Source"},
                "positions": np.linspace(0.0, 1e-3, 50).tolist(),
                "children": [{"type": "measurement", "instrument": {"name": "Multimeter"}}],
            }
        ]
    }
    rows = []
    for i in range(count):
        created = now - timedelta(minutes=count - i)
        status = _STATUSES[status_of[i]]
        rows.append(
            {
                "scan_id": uuid.uuid4().hex,
                "lab_id": labs[lab_of[i]],
                "project_name": "benchmark",
                "scan_name": f"IV sweep {i}",
                "scan_type": "iv",
                "job_type": "characterisation",
                "status": status,
                "operator": f"user{i % 7}",
                "computer_name": "lab-pc",
                "scan_tree_data": tree,
                "instrument_settings": {"Multimeter": {"range": 10, "nplc": 1}},
                "driver_versions": {"Multimeter": {"class": "FakeMultimeter", "version": "1"}},
                "extra_data": {"user_fields": {}, "additional_tags": []},
                "total_points": 50,
                "points_done": 50 if status == "completed" else 10,
                "progress": 1.0 if status == "completed" else 0.2,
                "started_at": created,
                "completed_at": created + timedelta(seconds=30),
                "created_at": created,
                "updated_at": created + timedelta(seconds=30),
            }
        )
    with db.engine.begin() as connection:
        connection.execute(insert(ScanRecord), rows)
    lab = 0
    completed = int(np.sum((lab_of == lab) & (status_of == 0)))
    return labs[lab], completed


def figure_search(backends: list[Backend], sizes: Sizes, rng: np.random.Generator) -> list[Figure]:
    figure = Figure(
        f"5  search {sizes.scans:,} scans (page of {SEARCH_PAGE} + count)",
        "ms",
        Goal("median < 50 ms", lambda v, r: v < 50),
        kind="latency",
    )
    columns = [c.name for c in ScanRecord.__table__.columns if c.name not in _HEAVY]
    for backend in backends:
        db = backend.db
        lab_id, completed = fill_scans(db, sizes.scans, rng)
        connection = backend.connect_pybirch()
        p = backend.placeholder
        where = f"WHERE lab_id = {p} AND status = {p}"
        page_sql = (
            f"SELECT {', '.join(columns)} FROM scans {where} "
            f"ORDER BY created_at DESC, id DESC LIMIT {SEARCH_PAGE}"
        )
        count_sql = f"SELECT count(*) FROM scans {where}"

        def ours(db: DatabaseService = db, lab_id: int = lab_id) -> Any:
            return db.search_scans(lab_id=lab_id, status="completed", per_page=SEARCH_PAGE)

        def base(
            connection: Any = connection,
            queries: tuple[str, str] = (page_sql, count_sql),
            params: tuple[int, str] = (lab_id, "completed"),
        ) -> tuple[list[Any], int]:
            items = connection.execute(queries[0], params).fetchall()
            (total,) = connection.execute(queries[1], params).fetchone()
            return items, total

        page = ours()
        items, total = base()
        if page.total != completed or total != completed or len(page.items) != SEARCH_PAGE:
            raise RuntimeError(f"{backend.name}: search found {page.total}, expected {completed}")
        if [scan.id for scan in page.items] != [row[columns.index("id")] for row in items]:
            raise RuntimeError(f"{backend.name}: search_scans and the plain query disagree")
        figure.results[backend.name] = paired_median_ms(sizes.search_calls, ours, base)
        connection.close()
        print(
            f"  {backend.name}: search_scans {figure.results[backend.name][0]:.2f} ms, "
            f"plain SQL {figure.results[backend.name][1]:.2f} ms ({completed} matches)"
        )
    return [figure]


# -- main ----------------------------------------------------------------------------------


def run_figures(backends: list[Backend], sizes: Sizes, wanted: set[str]) -> list[Figure]:
    """Run the figures asked for, printing each one's progress and time."""
    rng = np.random.default_rng(2024)
    figures: dict[str, tuple[str, Callable[[], list[Figure]]]] = {
        "1": (
            "1-D scan through DatabaseQueue",
            lambda: figure_scan(backends, sizes),
        ),
        "2": (
            "scalar batches",
            lambda: figure_writes(
                backends,
                sizes,
                "2",
                "scalar 1k x 6",
                scalar_layout(),
                scalar_chunks(sizes.scalar_batches, rng),
                Goal(">= 0.5 x baseline", lambda v, r: r >= 0.5),
            ),
        ),
        "3": (
            "spectra (1,024 float64 per point)",
            lambda: figure_writes(
                backends,
                sizes,
                "3",
                "spectra 100x1024",
                spectrum_layout(),
                spectrum_chunks(sizes.spectrum_batches, rng),
                Goal(">= 100 MB/s (SQLite)", lambda v, r: v >= 100, (SQLITE,)),
            ),
        ),
        "4": ("reading back", lambda: figure_read(backends, sizes, rng)),
        "5": ("listing scans", lambda: figure_search(backends, sizes, rng)),
    }
    results: list[Figure] = []
    for number, (title, run) in figures.items():
        if number not in wanted:
            continue
        print(f"figure {number}: {title}")
        started = time.perf_counter()
        results += run()
        print(f"  ({time.perf_counter() - started:.0f} s)")
    return results


def main() -> int:
    """Run the figures on SQLite and PostgreSQL and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PYBIRCH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL server to create the throwaway database on",
    )
    parser.add_argument("--figures", default="1,2,3,4,5", help="comma-separated figure numbers")
    parser.add_argument("--repeats", type=int, help="best of N (default 3, 1 with --quick)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.repeats:
        sizes = Sizes(**{**sizes.__dict__, "repeats": args.repeats})
    wanted = set(args.figures.split(","))

    directory = Path(tempfile.mkdtemp(prefix="pybirch-bench-"))
    os.environ["PYBIRCH_DATA_DIR"] = str(directory / "data")
    started = time.perf_counter()
    backends: list[Backend] = []
    postgres: ThrowawayPostgres | None = None
    try:
        backends.append(sqlite_backend(directory))
        if not args.sqlite_only:
            try:
                postgres = ThrowawayPostgres(args.postgres).__enter__()
            except psycopg.OperationalError as exc:
                print(f"PostgreSQL at {args.postgres} is unreachable ({exc}); use --sqlite-only")
                return 2
            backends.append(postgres_backend(postgres.url))
        describe(backends, sizes)
        figures = run_figures(backends, sizes, wanted)
        print_table(figures, [backend.name for backend in backends])
        print(f"total {time.perf_counter() - started:.0f} s")
    finally:
        for backend in backends:
            backend.close()
        if postgres is not None:
            postgres.__exit__(*sys.exc_info())
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
