"""Points from a lab computer that holds only its token, through the server, to the database.

Run: ``.venv/bin/python benchmarks/agent_link.py`` (``--quick`` for a short run,
``--sqlite`` for a SQLite server database instead of a throwaway PostgreSQL one,
``--repeats N`` for the best of N, ``--only N`` for one figure).

A real ``pybirch serve`` process (gunicorn gthread, as a lab runs it) serves a throwaway
database. The agent's side of figures 1 and 2 runs in this process, exactly as an agent's
queue writes: ``DataManager.write_batch`` for every batch of a scan (spooled, merged,
compressed) and ``flush`` (everything committed and acknowledged), on a
:class:`~pybirch.agent.server_database.ServerDatabase` that reaches the database only
through the server's agent gateway. The baseline, measured in the same run on the same
database, is the same DataManager writing to the database directly (an agent with
``DATABASE_URL``). Runs alternate, best of N. MB = 10**6 bytes of float64.

1. Scalar points: 1,000,000 points (1,000-point batches of 4 data columns, a position and
   a timestamp): points/s sustained through the server (goal: at least 100,000), and
   against direct writing.
2. Spectra: 100 batches of 100 spectra of 1,024 float64 (82 MB): MB/s through the server
   (goal: at least 100), and against direct writing.
3. Point measured on a token-only ``pybirch agent --simulated`` process -> Socket.IO client,
   ~1,000 points/s (figure 1 of ``benchmarks/live.py``): p50, p95 (goal p95 < 100 ms), every
   row once; and the same on an agent writing to the database directly.
4. A 1,000 x 1,000 map (Stage Y, Stage X at full speed, the Lock-in read) built in the
   builder and measured on a token-only agent process: points/s from the build to the
   last point stored; and the same on an agent writing to the database directly. The
   simulated instruments and the engine set this pace; the ratio says what the link costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np

from browser_support import running_agent, running_server  # the tests' process launchers
from database_support import TemporaryPostgresDatabase, postgres_available
from lab_client import LabClient, agent_offers, build_map, register_computer, wait_for
from live import _ms, latency
from pybirch.agent.server_database import ServerDatabase
from pybirch.database import DatabaseService
from pybirch.database_integration import DataManager
from pybirch.scan.batch import DataBatch
from storage import (
    as_batches,
    raw_bytes,
    scalar_chunks,
    scalar_layout,
    spectrum_chunks,
    spectrum_layout,
    timed,
)

PASSWORD = "agent link benchmark password"
MB = 1e6


def written_by(
    db: DatabaseService | ServerDatabase, queue_id: int, lab_id: int, batches: list[DataBatch]
) -> Callable[[], float]:
    """One run: a new scan of the queue, every batch written and committed; its seconds."""

    def run() -> float:
        scan = db.create_scan("link benchmark", queue_id=queue_id, lab_id=lab_id)
        manager = DataManager(db, replay=False)
        total = batches[-1].first_point + batches[-1].point_count

        def write() -> None:
            for batch in batches:
                done = batch.first_point + batch.point_count
                manager.write_batch(scan.id, batch, done, done / total)
            if not manager.flush(600):
                raise RuntimeError("the data manager did not commit within 600 s")

        seconds = timed(write)
        manager.close()
        if manager.errors:
            raise RuntimeError(f"the data manager failed: {manager.errors[0]}")
        return seconds

    return run


def best_of(repeats: int, ours: Callable[[], float], baseline: Callable[[], float]):
    """Best seconds of each, their runs alternating so both meet the same machine noise."""
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(ours())
        theirs.append(baseline())
    return min(mine), min(theirs)


def check_stored(db: DatabaseService, queue_id: int, rows: int) -> None:
    """Every scan of the benchmark queue holds exactly ``rows`` rows."""
    for scan in db.get_queue_with_scans(queue_id, with_settings=False).scans:
        stored = db.get_row_count(db.find_measurement_object(scan.id).id)
        if stored != rows:
            raise RuntimeError(f"scan {scan.id} holds {stored} of {rows} rows")


def throughput(
    url: str,
    database_url: str,
    token: str,
    lab_id: int,
    quick: bool,
    repeats: int,
    wanted: set[int],
) -> None:
    """Figures 1 and 2: the same batches through the server and straight to the database."""
    agent_db = ServerDatabase(url, token)
    direct = DatabaseService(database_url)
    rng = np.random.default_rng(1)
    cases = []
    if 1 in wanted:
        chunks = scalar_chunks(100 if quick else 1_000, rng)
        cases.append((1, "scalar points", chunks, scalar_layout()))
    if 2 in wanted:
        chunks = spectrum_chunks(20 if quick else 100, rng)
        cases.append((2, "spectra", chunks, spectrum_layout()))
    for number, label, chunks, layout in cases:
        batches = as_batches(chunks, layout)
        rows = sum(chunk.row_count for chunk in chunks)
        points = sum(chunk.point_count for chunk in chunks)
        megabytes = sum(raw_bytes(chunk) for chunk in chunks) / MB
        queue = agent_db.create_or_reuse_queue(f"link {label}", lab_id=lab_id)
        ours, baseline = best_of(
            repeats,
            written_by(agent_db, queue.id, lab_id, batches),
            written_by(direct, queue.id, lab_id, batches),
        )
        check_stored(direct, queue.id, rows)
        if number == 1:
            print(
                f"1  {points:,} scalar points, token-only agent -> server -> database: "
                f"{points / ours:,.0f} points/s ({megabytes / ours:.0f} MB/s); direct to the "
                f"database {points / baseline:,.0f} points/s; ratio {baseline / ours:.2f}  "
                f"(goal: >= 100,000 points/s)"
            )
        else:
            print(
                f"2  {points:,} spectra of 1,024 ({megabytes:.0f} MB), token-only agent -> "
                f"server -> database: {megabytes / ours:.0f} MB/s; direct to the database "
                f"{megabytes / baseline:.0f} MB/s; ratio {baseline / ours:.2f}  "
                f"(goal: >= 100 MB/s)"
            )
    direct.close()


def map_rate(client: LabClient, db: DatabaseService, lab_id: int, computer_id: int, side: int):
    """Points/s of a ``side`` x ``side`` map on an agent: built, measured, every point stored."""
    started = time.perf_counter()
    scan_id = build_map(client, lab_id, computer_id, side, f"map {computer_id}")
    wait_for(
        lambda: db.get_scan(scan_id, with_settings=False).status in ("completed", "failed"),
        1800,
        "the map to be measured and stored",
    )
    elapsed = time.perf_counter() - started
    record = db.get_scan(scan_id, with_settings=False)
    stored = db.get_row_count(db.find_measurement_object(record.id).id)
    if record.status != "completed" or stored != side * side:
        raise RuntimeError(f"the map ended {record.status} with {stored} of {side * side} rows")
    return side * side / elapsed


def on_agents(
    url: str, folder: Path, database_url: str, lab_id: int, seconds: float, side: int, wanted
) -> None:
    """Figures 3 and 4 on a token-only agent process and on one writing the database itself."""
    db = DatabaseService(database_url)
    client = LabClient(url, "admin", PASSWORD)
    rates = {}
    for mode, agent_database in (("token only", None), ("direct", database_url)):
        computer, token = db.create_computer(lab_id, f"{mode} PC")
        agent_dir = folder / f"agent-{computer.id}"
        agent_dir.mkdir()
        identity = {"PYBIRCH_COMPUTER_ID": f"bench-{mode}", "PYBIRCH_COMPUTER_NAME": mode}
        with running_agent(agent_dir, url, token, agent_database, env=identity):
            wait_for(
                lambda computer_id=computer.id: "Stage Y" in agent_offers(db, computer_id),
                60,
                "the agent to offer its instruments",
            )
            if 3 in wanted:
                delays, complete = latency(
                    client, lab_id, seconds, 1000, f"latency {mode}", str(computer.id)
                )
                print(
                    f"3  point -> client, ~1,000 points/s for {seconds:g} s, agent {mode}: "
                    f"p50 {_ms(delays, 50)}, p95 {_ms(delays, 95)}, every row once: "
                    f"{complete}  (goal: p95 < 100 ms)"
                )
            if 4 in wanted:
                rates[mode] = map_rate(client, db, lab_id, computer.id, side)
    if rates:
        print(
            f"4  a {side} x {side} map built in the browser, measured on the agent at full "
            f"speed until every point is stored: token-only agent "
            f"{rates['token only']:,.0f} points/s, direct agent {rates['direct']:,.0f} "
            f"points/s; ratio {rates['token only'] / rates['direct']:.2f}  (the simulated "
            f"instruments and the engine set this pace)"
        )
    client.close()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, 1 repeat")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite server database")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--only", type=int, action="append", choices=(1, 2, 3, 4))
    options = parser.parse_args()
    wanted = set(options.only or (1, 2, 3, 4))
    repeats = 1 if options.quick else options.repeats
    folder = Path(tempfile.mkdtemp(prefix="pybirch-link-"))
    os.environ["PYBIRCH_DATA_DIR"] = str(folder)
    with ExitStack() as stack:
        if options.sqlite or not postgres_available():
            database_url = f"sqlite:///{folder / 'pybirch.db'}"
        else:
            database_url = stack.enter_context(TemporaryPostgresDatabase()).url
            DatabaseService(database_url, auto_upgrade=True).close()
        print(f"server database: {database_url.split('@')[-1]}")
        url = stack.enter_context(
            running_server(folder, PASSWORD, threads=32, database_url=database_url)
        )
        db, lab_id, _, token = register_computer(database_url, url, PASSWORD, "Benchmark PC")
        throughput(url, database_url, token, lab_id, options.quick, repeats, wanted)
        if wanted & {3, 4}:
            seconds, side = (10, 300) if options.quick else (30, 1000)
            on_agents(url, folder, database_url, lab_id, seconds, side, wanted)
        db.close()


if __name__ == "__main__":
    main()
