"""Plot memory: the streamed plot routes against the whole-array method they replaced.

Run: ``.venv/bin/python benchmarks/plots.py`` (``--points N`` to change the scan's size,
default 1,560,000 points as in issue 9; ``--postgres URL`` to run on a PostgreSQL server
as well, in a throwaway database).

A 2-D scan (one data column, two positions and the timestamp) is stored as a scan writes
it, in chunks of 64,000 points. Each plot (a downsampled line of 2,000 points, a heatmap
of at most 250,000 cells) is computed twice in the same run: by the plot route through
the WSGI app (streamed, chunk by chunk), and by the whole-array method of before
(``tests/plot_reference.py``: read the whole measurement, then downsample). The figure is
the peak of Python-traced memory (numpy's arrays included) during each, measured with
tracemalloc, and the ratio streamed / whole (lower is better). The streamed and whole
results are compared value by value (the heatmap's block means to rounding: the sums add
the same values in another order).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import plot_reference as reference  # the whole-array method, kept for tests and here
from database_support import TemporaryPostgresDatabase
from pybirch.database import DatabaseService, Layout
from pybirch.database.models import Role
from pybirch.database.storage import ChunkData
from web_support import add_member, make_app

CHUNK = 64_000
VALUE, POSITIONS = "signal (V)", ["y (mm)", "x (mm)"]


def store_scan(db: DatabaseService, points: int) -> tuple[str, int, str]:
    """A lab, a viewer's token and a 2-D scan of about ``points`` points: (scan, id, token)."""
    lab = db.create_lab("Bench")
    token = db.create_api_token(add_member(db, lab.id, "bench", Role.VIEWER), "bench")[1]
    scan = db.create_scan("map", lab_id=lab.id)
    measurement = db.create_measurement_object(scan.id, "Lock-in", Layout.build([VALUE], POSITIONS))
    fast = 2_000
    slow = points // fast
    rng = np.random.default_rng(0)
    for first in range(0, slow * fast, CHUNK):
        n = min(CHUNK, slow * fast - first)
        index = np.arange(first, first + n)
        columns = [
            rng.normal(size=n),
            (index // fast).astype(np.float64),
            (index % fast).astype(np.float64),
            np.full(n, 1.7e9),
        ]
        db.write_rows(measurement.id, ChunkData(first, first, columns, n, n))
    return scan.scan_id, measurement.id, token


def peak(work: Callable[[], Any]) -> tuple[int, Any]:
    """Peak traced bytes while ``work`` runs, and its result."""
    tracemalloc.start()
    try:
        result = work()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def run(url: str, points: int) -> None:
    """Print the figures of one database engine."""
    db = DatabaseService(url, auto_upgrade=True)
    try:
        scan_id, measurement_id, token = store_scan(db, points)
        client = make_app(db).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        base = f"/api/v1/scans/{scan_id}/plot/Lock-in"
        rows = db.get_row_count(measurement_id)
        print(f"\n{db.dialect}: {rows:,} points, {rows * 32 / 1e6:.0f} MB of float64 stored")
        plots = {
            "line": (
                "?kind=line&x=x (mm)&max_points=2000",
                lambda: reference.whole_line(db, measurement_id, "x (mm)", VALUE, 2_000),
            ),
            "heatmap": (
                "",
                lambda: reference.whole_heatmap(db, measurement_id, VALUE, POSITIONS, 250_000),
            ),
        }
        for name, (query, whole) in plots.items():
            streamed_peak, response = peak(lambda query=query: client.get(base + query))
            whole_peak, expected = peak(whole)
            assert response.status_code == 200, response.get_data(as_text=True)
            plot = response.json
            if name == "line":
                assert np.array_equal(np.array(plot["y"], dtype=float), expected[1])
            else:
                np.testing.assert_allclose(
                    np.array(plot["z"], dtype=float),
                    expected[2],
                    rtol=1e-12,
                    atol=1e-15,
                    equal_nan=True,
                )
            print(
                f"  {name:8} streamed {streamed_peak / 1e6:7.1f} MB   whole array "
                f"{whole_peak / 1e6:7.1f} MB   ratio {streamed_peak / whole_peak:.3f}"
            )
    finally:
        db.close()


def main() -> None:
    """Parse the options and run on SQLite (and PostgreSQL if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_560_000)
    parser.add_argument("--postgres", help="PostgreSQL server URL (a database is made for the run)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["PYBIRCH_DATA_DIR"] = folder
        run(f"sqlite:///{folder}/bench.db", options.points)
        if options.postgres:
            with TemporaryPostgresDatabase(options.postgres) as database:
                run(database.url, options.points)


if __name__ == "__main__":
    main()
