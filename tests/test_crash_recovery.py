"""Crash recovery (DESIGN.md, "Reliability rules"): no point is lost, none is stored twice.

* A process running a scan (``crash_child.py``) is killed with SIGKILL mid-scan. After the
  restart (``DatabaseQueue.from_database``, which replays the spool), every point the
  simulated instrument returned up to the last spool write is in the database exactly once,
  with the value the instrument returned, and the scan and the queue are marked interrupted.
  On SQLite and PostgreSQL, once with the database writer keeping up and once with the
  database stalled just before the kill, so that the last batches exist only in the spool.
* PostgreSQL is unreachable for 30 seconds mid-scan and comes back: the scan keeps
  measuring, finishes, and every point is stored exactly once.

Nothing waits on a fixed sleep: every wait polls a condition against a deadline. The only
timed interval is the 30-second outage itself, which is the thing being tested.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pytest
from sqlalchemy.engine import make_url

from crash_child import MEASUREMENT, QUEUE_ID, build_scan, currents
from database_support import TcpProxy
from pybirch.database import DatabaseService
from pybirch.database.config import normalize_url
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration import DatabaseQueue
from pybirch.database_integration.spool import SUFFIX, read_records, spool_directory
from pybirch.scan import ScanState

T = TypeVar("T")

CHILD_SCRIPT = Path(__file__).with_name("crash_child.py")
#: The killed scan: 5,000 points at 2 ms each (10 s at least), batches of 50 points.
POINTS = 5_000
DELAY_S = 0.002
BUFFER_SIZE = 50
#: Readings the killed process takes before the kill (a fifth of the scan).
KILL_AFTER_READINGS = 1_000
#: The outage scan: 3,000 points at 20 ms each (a minute at least).
OUTAGE_POINTS = 3_000
OUTAGE_DELAY_S = 0.020
OUTAGE_S = 30.0
#: Longest any wait for a condition lasts before the test fails instead of hanging.
PATIENCE_S = 60.0
POLL_S = 0.02
VOLTAGE = "voltage (V)"
CURRENT = "current (A)"


def wait_until(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = PATIENCE_S,
    check: Callable[[], None] = lambda: None,
) -> T:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds.

    ``check`` runs between polls and may fail the test early (a child that died).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        check()
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(POLL_S)


# -- what the database and the spool hold ----------------------------------------------------


def scan_record(db: DatabaseService) -> ScanRecord | None:
    """The record of the queue's (only) scan, or None before the scan is recorded."""
    try:
        scans = db.get_queue_with_scans(QUEUE_ID).scans
    except NotFoundError:
        return None
    assert len(scans) <= 1, [scan.scan_name for scan in scans]
    return scans[0] if scans else None


def stored_points(db: DatabaseService) -> int:
    """Points of the scan committed to the database (counted from the stored chunks)."""
    record = scan_record(db)
    return 0 if record is None else db.get_data_point_count(record.id)


def spool_folder(database_url: str) -> Path:
    """Where a process writing to ``database_url`` spools its batches."""
    return spool_directory(normalize_url(database_url).render_as_string(hide_password=True))


def spooled_headers(folder: Path) -> list[dict[str, Any]]:
    """The header of every whole record in the spool files of ``folder``."""
    return [
        record.header for path in sorted(folder.glob(f"*{SUFFIX}")) for record in read_records(path)
    ]


def spooled_end(headers: list[dict[str, Any]]) -> int:
    """One past the last point the spool records hold (0 for an empty spool)."""
    return max((h["first_point"] + h["point_count"] for h in headers), default=0)


# -- the killed process ------------------------------------------------------------------------


def read_readings(path: Path) -> np.ndarray:
    """The voltage of every reading logged by the killed process, indexed by point number."""
    lines = path.read_bytes().split(b"\n")[:-1]  # only whole lines; a torn tail is dropped
    points = np.array([int(line.split()[0]) for line in lines], dtype=np.int64)
    np.testing.assert_array_equal(points, np.arange(len(lines)), "readings log out of order")
    return np.array([float(line.split()[1]) for line in lines])


class ScanProcess:
    """``crash_child.py`` running a scan into ``database_url``, with its output kept."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.readings_log = folder / "readings.log"
        self._output_path = folder / "child-output.txt"
        self._output = self._output_path.open("wb")
        command = [
            sys.executable,
            str(CHILD_SCRIPT),
            database_url,
            str(self.readings_log),
            f"--points={POINTS}",
            f"--delay={DELAY_S}",
            f"--buffer-size={BUFFER_SIZE}",
        ]
        # os.environ carries the test's PYBIRCH_DATA_DIR: both processes share one spool.
        self.process = subprocess.Popen(
            command, env=dict(os.environ), stdout=self._output, stderr=subprocess.STDOUT
        )

    def __enter__(self) -> ScanProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.kill()
        self._output.close()

    def readings_taken(self) -> int:
        """Readings the instrument has returned so far."""
        if not self.readings_log.exists():
            return 0
        return self.readings_log.read_bytes().count(b"\n")

    def check_running(self) -> None:
        """Fail the test, showing the child's output, if the child has exited."""
        code = self.process.poll()
        if code is not None:
            self._output.flush()
            output = self._output_path.read_text(errors="replace")
            pytest.fail(f"the scan process exited with {code} before it was killed:\n{output}")

    def kill(self) -> None:
        """SIGKILL the process and reap it (a zombie would still count as running)."""
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=PATIENCE_S) == -signal.SIGKILL


@dataclass(frozen=True)
class AfterTheKill:
    """What the killed process left behind, seen before anything recovers it."""

    #: Voltage the instrument returned at each point, in point order.
    readings: np.ndarray
    #: Points committed to the database.
    committed: int
    #: Headers of the records left in the spool.
    spooled: list[dict[str, Any]]

    @property
    def last_point_written(self) -> int:
        """One past the last point that reached the spool or the database."""
        return max(self.committed, spooled_end(self.spooled))

    @property
    def uncommitted_records(self) -> int:
        """Spool records holding points the database did not have."""
        return sum(h["first_point"] + h["point_count"] > self.committed for h in self.spooled)


def observe_crash(db: DatabaseService, spool: Path, process: ScanProcess) -> AfterTheKill:
    """Read the log, the database and the spool the killed process left."""
    record = scan_record(db)
    assert record is not None, "the scan was never recorded"
    assert record.status == "running"
    committed = db.read_scan_data(record.id, MEASUREMENT).point_index
    np.testing.assert_array_equal(committed, np.arange(len(committed)))
    return AfterTheKill(read_readings(process.readings_log), len(committed), spooled_headers(spool))


def restart(database_url: str) -> int:
    """Recover the queue in a fresh service, as a restarted process does; chunks replayed."""
    service = DatabaseService(database_url)
    try:
        queue = DatabaseQueue.from_database(service, QUEUE_ID)
        replayed = queue.data_manager.replayed_chunks
        queue.close()
        return replayed
    finally:
        service.close()


def assert_recovered(db: DatabaseService, crash: AfterTheKill, spool: Path) -> None:
    """Every point up to the last spool write stored once, as returned; the run interrupted."""
    expected = crash.last_point_written
    assert 0 < expected <= len(crash.readings) < POINTS, (expected, len(crash.readings))
    record = scan_record(db)
    assert record is not None
    data = db.read_scan_data(record.id, MEASUREMENT)
    np.testing.assert_array_equal(data.point_index, np.arange(expected))  # once each, no gap
    assert db.get_data_point_count(record.id) == expected  # no overlapping chunk either
    np.testing.assert_array_equal(data[VOLTAGE], crash.readings[:expected])
    np.testing.assert_array_equal(data[CURRENT], currents(POINTS)[:expected])
    assert record.status == "interrupted"
    assert db.get_queue(QUEUE_ID).status == "interrupted"
    assert list(spool.glob(f"*{SUFFIX}")) == [], "replayed spool files must be deleted"


# -- databases that can be stalled -------------------------------------------------------------


def host_and_port(database_url: str) -> tuple[str, int]:
    """Where the server of ``database_url`` listens."""
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 5432


class StallableDatabase(Protocol):
    """A route to a test database that can stop accepting writes and start again."""

    #: The URL a writer uses (it goes through the stall).
    url: str

    def stall(self) -> None: ...

    def resume(self) -> None: ...

    def close(self) -> None: ...


class LockedSqlite:
    """A SQLite file whose write lock another connection can hold (writers wait, reads go on)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._path = make_url(url).database
        self._holder: sqlite3.Connection | None = None

    def stall(self) -> None:
        holder = sqlite3.connect(self._path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # takes the write lock; WAL readers are not blocked
        self._holder = holder

    def resume(self) -> None:
        if self._holder is not None:
            self._holder.execute("ROLLBACK")
            self._holder.close()
            self._holder = None

    def close(self) -> None:
        self.resume()


class ProxiedPostgres:
    """PostgreSQL reached through a :class:`TcpProxy` that can cut every connection."""

    def __init__(self, url: str) -> None:
        self._proxy = TcpProxy(*host_and_port(url)).start()
        self.url = self._proxy.url_for(url)

    def stall(self) -> None:
        self._proxy.cut()

    def resume(self) -> None:
        self._proxy.restore()

    def close(self) -> None:
        self._proxy.stop()


@pytest.fixture
def stallable(database_url: str) -> Iterator[StallableDatabase]:
    """``database_url`` behind a stall: a held write lock (SQLite) or a cut proxy (PostgreSQL)."""
    route: StallableDatabase
    if make_url(database_url).get_backend_name() == "sqlite":
        route = LockedSqlite(database_url)
    else:
        route = ProxiedPostgres(database_url)
    try:
        yield route
    finally:
        route.close()


# -- (a) SIGKILL mid-scan ----------------------------------------------------------------------


def test_sigkill_mid_scan_then_restart_stores_every_point_once_and_marks_interrupted(
    database_url: str, db: DatabaseService, tmp_path: Path
) -> None:
    spool = spool_folder(database_url)
    with ScanProcess(database_url, tmp_path) as child:
        wait_until(
            lambda: child.readings_taken() >= KILL_AFTER_READINGS and stored_points(db) > 0,
            f"{KILL_AFTER_READINGS} readings and some stored points",
            check=child.check_running,
        )
        child.kill()

    crash = observe_crash(db, spool, child)
    # Whether the writer had committed everything spooled depends on where the kill fell
    # (usually it has); the stalled variant below makes the spool-only case certain.
    restart(database_url)

    assert_recovered(db, crash, spool)


def kill_while_stalled(
    stallable: StallableDatabase, db: DatabaseService, folder: Path
) -> AfterTheKill:
    """Run the scan, stall the database, kill the process once four batches wait in the spool."""
    spool = spool_folder(stallable.url)
    with ScanProcess(stallable.url, folder) as child:
        wait_until(
            lambda: stored_points(db) >= 2 * BUFFER_SIZE,
            "the first batches to be committed",
            check=child.check_running,
        )
        stallable.stall()
        wait_until(
            lambda: spooled_end(spooled_headers(spool)) >= stored_points(db) + 4 * BUFFER_SIZE,
            "four batches spooled but not committed",
            check=child.check_running,
        )
        child.kill()
    stallable.resume()
    crash = observe_crash(db, spool, child)
    assert crash.uncommitted_records >= 4, "the kill must leave points only the spool holds"
    return crash


def test_sigkill_while_the_database_is_stalled_replays_the_spool_on_restart(
    stallable: StallableDatabase, db: DatabaseService, tmp_path: Path
) -> None:
    crash = kill_while_stalled(stallable, db, tmp_path)

    replayed = restart(stallable.url)

    assert_recovered(db, crash, spool_folder(stallable.url))
    assert replayed >= crash.uncommitted_records


def test_an_interrupted_scan_counts_the_points_the_replay_stored(
    stallable: StallableDatabase, db: DatabaseService, tmp_path: Path
) -> None:
    kill_while_stalled(stallable, db, tmp_path)

    restart(stallable.url)

    record = scan_record(db)
    assert record is not None
    assert record.points_done == stored_points(db)


# -- (b) PostgreSQL unreachable for 30 seconds --------------------------------------------------


@pytest.fixture
def direct_db(postgres_url: str) -> Iterator[DatabaseService]:
    """A migrated service on the PostgreSQL test database, connected without a proxy."""
    service = DatabaseService(postgres_url, auto_upgrade=True)
    try:
        yield service
    finally:
        service.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_postgres_unreachable_for_30_seconds_mid_scan_loses_no_point(
    postgres_url: str, direct_db: DatabaseService
) -> None:
    readings: list[np.ndarray] = []
    scan = build_scan(
        lambda point, reading: readings.append(reading), OUTAGE_POINTS, OUTAGE_DELAY_S, BUFFER_SIZE
    )
    with TcpProxy(*host_and_port(postgres_url)) as proxy:
        proxied_url = proxy.url_for(postgres_url)
        spool = spool_folder(proxied_url)
        service = DatabaseService(proxied_url)
        queue = DatabaseQueue(QUEUE_ID, service, operator="outage-test")
        try:
            queue.enqueue(scan)
            queue.start()
            wait_until(lambda: stored_points(direct_db) >= 4 * BUFFER_SIZE, "stored points")

            proxy.cut()
            measured_at_cut = scan.points_done
            stored_at_cut = stored_points(direct_db)
            outage_ends = time.monotonic() + OUTAGE_S
            while time.monotonic() < outage_ends:  # the outage itself: 30 s, as the issue says
                assert stored_points(direct_db) == stored_at_cut, "a write got through the cut"
                time.sleep(0.5)
            assert scan.state is ScanState.RUNNING, "the scan must outlast the outage"
            measured_in_outage = scan.points_done - measured_at_cut
            spooled_in_outage = spooled_end(spooled_headers(spool)) - stored_at_cut
            proxy.restore()

            assert queue.wait_for_completion(timeout=PATIENCE_S * 2)
            assert queue.data_manager.errors == []
        finally:
            queue.close()
            service.close()

    assert measured_in_outage >= 4 * BUFFER_SIZE, "the scan must keep measuring"
    assert spooled_in_outage >= 4 * BUFFER_SIZE, "what it measured must go to the spool"
    assert scan.state is ScanState.COMPLETED
    record = scan_record(direct_db)
    assert record is not None
    assert (record.status, record.points_done) == ("completed", OUTAGE_POINTS)
    data = direct_db.read_scan_data(record.id, MEASUREMENT)
    np.testing.assert_array_equal(data.point_index, np.arange(OUTAGE_POINTS))
    assert direct_db.get_data_point_count(record.id) == OUTAGE_POINTS
    np.testing.assert_array_equal(data[VOLTAGE], np.concatenate(readings).ravel())
    np.testing.assert_array_equal(data[CURRENT], currents(OUTAGE_POINTS))
    assert list(spool.glob(f"*{SUFFIX}")) == [], "a spool fully committed is deleted at close"
