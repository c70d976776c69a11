"""Long persisted scans: cost per point and peak memory from 10^4 to 10^7 points (10^8).

Run: ``.venv/bin/python benchmarks/scale.py`` (``--sqlite-only``, ``--sizes 4,5,6`` for
powers of ten, ``--huge`` adds 10^8 points; ``--postgres URL`` names the server on which a
throwaway database is made for each size, default ``$PYBIRCH_BENCH_POSTGRES_URL`` or
``postgresql://postgres@127.0.0.1:5432/postgres``).

Each size runs in a fresh subprocess, so its peak RSS (``ru_maxrss``, taken when the scan
has finished) is its own: a 1-D scan of zero-cost instruments (a movement that stores its
position, a measurement returning a preallocated row of three columns, see
``benchmarks/engine.py``) through ``DatabaseQueue``, from ``queue.start()`` to
``wait_for_completion()``, which includes committing every point. The child then checks
that every point is stored, and measures the baseline on the same database engine: the
same rows (point, position, three readings, timestamp) inserted with the DB-API's
``executemany``, 1,000 rows a call and a commit every 64 calls, as ``DataManager`` commits
at most. The baseline inserts at most 10^6 rows (its cost per row does not grow with
the count); the ratio is PyBirch's microseconds per point over the baseline's per row.

For the largest size, a second fresh process reads the stored scan back as a user does
(``read_figures``): the scan page (median of 5 requests through the WSGI app, logged in as
a lab viewer), a downsampled line plot of the whole measurement, a Parquet export (MB/s of
float64 columns exported) and, up to 10^7 points, ``db.read_xarray``; with its RSS after
start-up and its peak RSS.

Goals (issue 10): us/point at 10^7 within 1.3 times that at 10^5; at least 500 k
points/s persisted on SQLite at 10^7; peak RSS under 400 MiB at 10^7 (500 MiB at 10^8);
the scan page of the largest scan under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import NullMeasurement, NullMovement

# The web tests' helpers (an app, a logged-in member) serve the read-back figures.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BASELINE_MAX_ROWS = 1_000_000
ROWS_PER_CALL = 1000
CALLS_PER_COMMIT = 64
GOAL_GROWTH = 1.3
GOAL_SQLITE_RATE = 500_000
GOAL_RSS_MIB = {10**7: 400, 10**8: 500}
GOAL_PAGE_MS = 300
#: Largest scan gridded with read_xarray (its output is inherently the data's size).
XARRAY_MAX_POINTS = 10**7


def main() -> None:
    """Run every size in its own process and print the table and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,5,6,7", help="powers of ten, comma separated")
    parser.add_argument("--huge", action="store_true", help="add 10^8 points")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--postgres", default=os.environ.get("PYBIRCH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--child", nargs=2, metavar=("DATABASE", "POINTS"), help=argparse.SUPPRESS)
    parser.add_argument("--reads", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--read-child", nargs=3, metavar=("URL", "SCAN", "POINTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        database, points = args.child
        print(json.dumps(child(database, int(points), args.postgres, args.reads)))
        return
    if args.read_child:
        url, scan_id, points = args.read_child
        print(json.dumps(read_figures(url, int(scan_id), int(points))))
        return
    sizes = [10 ** int(power) for power in args.sizes.split(",")] + ([10**8] if args.huge else [])
    databases = ["sqlite"] if args.sqlite_only else ["sqlite", "postgresql"]
    for database in databases:
        results = [
            run_child(database, points, args.postgres, reads=points == max(sizes))
            for points in sizes
        ]
        print_table(database, results)


def run_child(database: str, points: int, postgres: str, reads: bool) -> dict[str, Any]:
    """One size in a fresh interpreter: its figures as a dict."""
    command = [sys.executable, __file__, "--child", database, str(points), "--postgres", postgres]
    return run_python(command + ["--reads"] * reads, f"{database} at {points:,} points")


def run_python(command: list[str], what: str) -> dict[str, Any]:
    """Run ``command`` and return the JSON of its last line of output."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(database: str, results: list[dict[str, Any]]) -> None:
    """The figures of one database, then its goals."""
    print(f"\n{database}: persisted 1-D scans of zero-cost instruments through DatabaseQueue")
    print(
        f"{'points':>12} {'points/s':>10} {'us/point':>9} {'executemany us/row':>19} "
        f"{'ratio':>6} {'peak RSS MiB':>13}"
    )
    for r in results:
        print(
            f"{r['points']:>12,} {r['points_per_s']:>10,.0f} {r['us_per_point']:>9.2f} "
            f"{r['baseline_us_per_row']:>19.2f} {r['ratio']:>6.2f} {r['peak_rss_mib']:>13.0f}"
        )
    by_size = {r["points"]: r for r in results}
    if 10**5 in by_size and 10**7 in by_size:
        growth = by_size[10**7]["us_per_point"] / by_size[10**5]["us_per_point"]
        met = verdict(growth <= GOAL_GROWTH)
        print(f"  us/point 10^7 / 10^5 = {growth:.2f} (goal <= {GOAL_GROWTH}): {met}")
    if database == "sqlite" and 10**7 in by_size:
        rate = by_size[10**7]["points_per_s"]
        met = verdict(rate >= GOAL_SQLITE_RATE)
        print(f"  points/s at 10^7 = {rate:,.0f} (goal >= {GOAL_SQLITE_RATE:,}): {met}")
    for size, limit in GOAL_RSS_MIB.items():
        if size in by_size:
            rss = by_size[size]["peak_rss_mib"]
            print(
                f"  peak RSS at {size:.0e} = {rss:.0f} MiB (goal < {limit}): {verdict(rss < limit)}"
            )
    for r in results:
        if "reads" in r:
            print_reads(r["points"], r["reads"])


def print_reads(points: int, reads: dict[str, Any]) -> None:
    """The read-back figures of the largest scan."""
    page = reads["scan_page_ms"]
    print(f"  reading the {points:,}-point scan back (a fresh process):")
    print(f"    scan page          {page:9.1f} ms (goal < {GOAL_PAGE_MS}): {verdict(page < 300)}")
    print(f"    line plot          {reads['plot_s']:9.2f} s  (2,000 points from all of them)")
    print(
        f"    Parquet export     {reads['export_mb_per_s']:9.1f} MB/s "
        f"({reads['export_mb']:,.0f} MB of columns in {reads['export_s']:.1f} s)"
    )
    if "xarray_s" in reads:
        grid = f"{reads['xarray_s']:9.2f} s  (output {reads['xarray_mb']:.0f} MB)"
        print(f"    read_xarray        {grid}")
    print(
        f"    RSS after start-up {reads['start_rss_mib']:9.0f} MiB, "
        f"peak {reads['peak_rss_mib']:.0f} MiB"
    )


def verdict(met: bool) -> str:
    """``met`` or ``MISSED``."""
    return "met" if met else "MISSED"


# -- the child: one size on one database --------------------------------------------------


def child(database: str, points: int, postgres: str, reads: bool) -> dict[str, Any]:
    """Run the scan, take the peak RSS, check the data, then time the baseline."""
    with tempfile.TemporaryDirectory(prefix="pybirch-scale-") as folder:
        os.environ["PYBIRCH_DATA_DIR"] = str(Path(folder) / "data")
        if database == "sqlite":
            url = f"sqlite:///{folder}/scale.db"
            base = lambda: sqlite_baseline(Path(folder) / "base.db", points)  # noqa: E731
            return measure(url, points, base, reads)
        with throwaway_postgres(postgres) as url:
            return measure(url, points, lambda: postgres_baseline(url, points), reads)


def measure(url: str, points: int, baseline: Any, reads: bool) -> dict[str, Any]:
    """The scan's figures and the baseline's (and the read-back figures), as one dict."""
    from pybirch.database import DatabaseService

    db = DatabaseService(url, auto_upgrade=True)
    try:
        seconds, record_id = persisted_scan(db, points)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        db.close()
    read_back = (
        run_python(
            [sys.executable, __file__, "--read-child", url, str(record_id), str(points)],
            f"reading {points:,} points",
        )
        if reads
        else None
    )
    base = baseline()
    us = seconds / points * 1e6
    return {
        **({"reads": read_back} if read_back is not None else {}),
        "points": points,
        "seconds": seconds,
        "points_per_s": points / seconds,
        "us_per_point": us,
        "baseline_us_per_row": base,
        "ratio": us / base,
        "peak_rss_mib": peak,
    }


def persisted_scan(db: Any, points: int) -> tuple[float, int]:
    """Seconds a DatabaseQueue takes to measure and commit ``points`` points, and the scan."""
    from pybirch.database_integration import DatabaseQueue
    from pybirch.scan import (
        Linspace,
        MeasurementItem,
        MovementItem,
        Scan,
        ScanSettings,
        ScanState,
        ScanTree,
    )

    # A lazy axis: 10^8 positions are never one 800 MB array, in the engine or the database.
    positions = Linspace(0.0, 1.0, points)
    movement, measurement = NullMovement("x"), NullMeasurement("meter")
    tree = ScanTree([MovementItem(movement, positions, children=[MeasurementItem(measurement)])])
    queue = DatabaseQueue(f"scale-{uuid.uuid4().hex[:8]}", db, operator="benchmark")
    handle = queue.enqueue(Scan(ScanSettings("benchmark", "scale", scan_tree=tree)))
    started = time.perf_counter()
    queue.start()
    finished = queue.wait_for_completion()
    seconds = time.perf_counter() - started
    queue.close()
    record_id = queue.db_scan_id(handle.scan_id)
    stored = db.get_data_point_count(record_id)
    if not finished or handle.state is not ScanState.COMPLETED or stored != points:
        raise RuntimeError(f"scan ended {handle.state}, {stored:,} of {points:,} points stored")
    return seconds, record_id


# -- reading the largest scan back ----------------------------------------------------------


def read_figures(url: str, record_id: int, points: int) -> dict[str, Any]:
    """Scan page, plot, export (and grid) of a stored scan, timed, with this process's RSS."""
    from pybirch.database import DatabaseService
    from pybirch.database.export import export_scan
    from pybirch.database.models import Role
    from pybirch.database.storage import Layout
    from web_support import client_for

    start_rss = peak_rss_mib()
    db = DatabaseService(url)
    try:
        lab = db.create_lab("Bench")
        scan = db.update_scan(record_id, lab_id=lab.id)
        client = client_for(db, lab, "bench", Role.VIEWER)
        figures = {"scan_page_ms": scan_page_ms(client, f"/scans/{scan.scan_id}")}
        started = time.perf_counter()
        plot = client.get(f"/api/v1/scans/{scan.scan_id}/plot/meter?kind=line&max_points=2000")
        figures["plot_s"] = time.perf_counter() - started
        if plot.status_code != 200:
            raise RuntimeError(f"plot failed: {plot.status_code} {plot.get_data(as_text=True)}")
        (measurement,) = db.get_measurement_objects(record_id)
        columns = len(Layout.from_json(measurement.columns).columns)
        with tempfile.TemporaryDirectory(prefix="pybirch-export-") as folder:
            started = time.perf_counter()
            export_scan(db, record_id, Path(folder), "parquet")
            seconds = time.perf_counter() - started
        megabytes = points * (columns + 1) * 8 / 1e6  # the columns and point_index
        figures |= {"export_s": seconds, "export_mb": megabytes}
        figures["export_mb_per_s"] = megabytes / seconds
        if points <= XARRAY_MAX_POINTS:
            started = time.perf_counter()
            grid = db.read_xarray(measurement.id)
            figures["xarray_s"] = time.perf_counter() - started
            figures["xarray_mb"] = grid.nbytes / 1e6
    finally:
        db.close()
    return {**figures, "start_rss_mib": start_rss, "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` keeps the peak of the process that forked
    this one across ``exec``, so a fresh child would report its parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scan_page_ms(client: Any, path: str, repeats: int = 5) -> float:
    """Median milliseconds of ``repeats`` requests of the scan page (after a first one)."""
    first = client.get(path)
    if first.status_code != 200:
        raise RuntimeError(f"scan page failed: {first.status_code}")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def rows(count: int) -> Iterator[list[tuple[float, ...]]]:
    """The baseline's rows, ROWS_PER_CALL at a time: point, position, readings, timestamp."""
    step = 1.0 / max(1, count - 1)
    for start in range(0, count, ROWS_PER_CALL):
        now = time.time()
        yield [
            (i, i * step, 1.0, 2.0, 3.0, now)
            for i in range(start, min(count, start + ROWS_PER_CALL))
        ]


def timed_inserts(connection: Any, insert: str, count: int) -> float:
    """Microseconds per row of executemany of ``count`` rows, committing every few calls."""
    cursor = connection.cursor()
    started = time.perf_counter()
    for calls, batch in enumerate(rows(count), start=1):
        cursor.executemany(insert, batch)
        if calls % CALLS_PER_COMMIT == 0:
            connection.commit()
    connection.commit()
    return (time.perf_counter() - started) / count * 1e6


def sqlite_baseline(path: Path, points: int) -> float:
    """executemany into a plain sqlite3 table with PyBirch's pragmas."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE rows (point INTEGER, x REAL, a REAL, b REAL, c REAL, t REAL)"
        )
        insert = "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)"
        return timed_inserts(connection, insert, min(points, BASELINE_MAX_ROWS))
    finally:
        connection.close()


def postgres_baseline(url: str, points: int) -> float:
    """executemany into a plain table of the throwaway database with psycopg."""
    import psycopg

    with psycopg.connect(libpq(url)) as connection:
        connection.execute(
            "CREATE TABLE rows (point bigint, x float8, a float8, b float8, c float8, t float8)"
        )
        connection.commit()
        insert = "INSERT INTO rows VALUES (%s, %s, %s, %s, %s, %s)"
        return timed_inserts(connection, insert, min(points, BASELINE_MAX_ROWS))


@contextmanager
def throwaway_postgres(server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one size (its SQLAlchemy URL), dropped afterwards."""
    import psycopg

    admin, name = libpq(server), f"pybirch_scale_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{admin.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq(url: str) -> str:
    """``url`` as psycopg takes it (no ``+driver``)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+')[0]}://{rest}"


if __name__ == "__main__":
    main()
