"""Long scans on SQLite and PostgreSQL: bounded memory (back-pressure) and a scan's
definition that its progress updates never rewrite."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from sqlalchemy import event, text

from engine_doubles import PositionProbe, RecordingStage
from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseExtension, DataManager, ScanManager
from pybirch.database_integration.spool import SUFFIX, Spool
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.scan import (
    Linspace,
    MeasurementItem,
    MovementItem,
    Scan,
    ScanSettings,
    ScanState,
    ScanTree,
)

POINTS = 1000
BATCH = 5
#: Batches the engine may run ahead of the database: the extensions' queue (64), the
#: batch the writer holds, the one queued, the one waiting for room and the buffer.
AHEAD = (64 + 4) * BATCH


class SlowDatabase:
    """A database that holds every chunk insert until ``gate`` opens: the writer falls behind."""

    def __init__(self, db: DatabaseService) -> None:
        self.gate = threading.Event()
        self._engine = db.engine
        event.listen(self._engine, "before_cursor_execute", self._hold)

    def _hold(self, connection, cursor, statement: str, *args: object) -> None:
        if statement.startswith("INSERT INTO measurement_chunks"):
            self.gate.wait()

    def close(self) -> None:
        self.gate.set()
        event.remove(self._engine, "before_cursor_execute", self._hold)


class EventOnLog(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.text in message:
            self.messages.append(message)
            self.seen.set()


@pytest.fixture
def back_pressure_log():
    handler = EventOnLog("waits at a point boundary")
    logger = logging.getLogger("pybirch.database_integration.managers.data_manager")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def probe_scan(points: int = POINTS) -> tuple[ScanSettings, PositionProbe]:
    stage = RecordingStage("stage", "x")
    probe = PositionProbe("probe", [stage])
    tree = ScanTree(
        [MovementItem(stage, np.linspace(0.0, 1.0, points), children=[MeasurementItem(probe)])]
    )
    return ScanSettings("p", "long scan", scan_tree=tree), probe


def test_a_slow_database_makes_the_scan_wait_and_loses_nothing(db, back_pressure_log):
    settings, probe = probe_scan()
    record_id = ScanManager(db).create_scan(settings).id
    slow = SlowDatabase(db)
    manager = DataManager(db, max_queued_bytes=1)
    ahead: list[int] = []

    def check_not_too_far_ahead(taken: int) -> None:
        if not slow.gate.is_set() and taken > AHEAD:
            ahead.append(taken)

    probe.before_reading = check_not_too_far_ahead
    extension = DatabaseExtension(db, record_id, data_manager=manager)
    scan = Scan(settings, extensions=[extension], buffer_size=BATCH)
    runner = threading.Thread(target=scan.run, daemon=True)
    runner.start()
    try:
        assert back_pressure_log.seen.wait(30), "the writer never held the scan back"
        assert probe.readings < POINTS, "the scan measured on although nothing was stored"
    finally:
        slow.close()
    runner.join(60)
    manager.close()

    assert scan.state is ScanState.COMPLETED, scan.error
    assert ahead == [], f"the scan ran {max(ahead)} points ahead of a stalled database"
    assert f"scan {record_id} waits at a point boundary" in back_pressure_log.messages[0]
    assert "the spool holds" in back_pressure_log.messages[0]
    assert manager.waits >= 1
    data = db.read_measurement(db.find_measurement_object(record_id).id)
    assert np.array_equal(data["point_index"], np.arange(POINTS)), "every point once, in order"
    assert np.array_equal(data["at_x (mm)"], np.linspace(0.0, 1.0, POINTS))
    assert db.get_scan(record_id).points_done == POINTS


def test_the_spool_keeps_only_what_is_not_committed(tmp_path):
    spool = Spool(tmp_path, fsync=False, segment_bytes=1000)
    segments = [spool.append({"n": n}, bytes(300)) for n in range(10)]
    files = set(tmp_path.glob(f"*{SUFFIX}"))
    assert len(files) == len({id(segment) for segment in segments}) > 1
    assert spool.describe().startswith(f"10 records (0.0 MiB) in {len(files)} files under")

    for segment in segments[:9]:
        spool.release(segment)

    assert spool.records == 1
    assert set(tmp_path.glob(f"*{SUFFIX}")) == {spool.path}, "committed segments are gone"
    spool.release(segments[9])
    assert spool.size == spool.path.stat().st_size == 0
    spool.close()
    assert list(tmp_path.glob(f"*{SUFFIX}")) == []


def definition_bytes(db: DatabaseService, record_id: int) -> tuple[str, bytes | None]:
    """The stored tree as the database holds it, and the positions' bytes."""
    with db.engine.connect() as connection:
        tree, positions = connection.execute(
            text("SELECT CAST(tree AS TEXT), positions FROM scan_definitions WHERE scan_id = :id"),
            {"id": record_id},
        ).one()
    return tree, None if positions is None else bytes(positions)


def test_progress_updates_never_rewrite_the_scans_definition(db):
    rows = np.array([0.0, 0.5, 2.0, 3.5])  # irregular: stored as float64 bytes
    stage, outer = FakeStage("Stage X", axis="x"), FakeStage("Stage Y", axis="y")
    lockin = FakeLockin("Lock-in")
    inner = MovementItem(stage, np.linspace(0.0, 1.0, 250), children=[MeasurementItem(lockin)])
    tree = ScanTree([MovementItem(outer, rows, children=[inner])])
    settings = ScanSettings("p", "map", scan_tree=tree)
    record_id = ScanManager(db).create_scan(settings).id
    before = definition_bytes(db, record_id)
    statements: list[str] = []

    def remember(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        manager = DataManager(db)
        extension = DatabaseExtension(db, record_id, data_manager=manager)
        scan = Scan(settings, extensions=[extension], buffer_size=2, flush_interval=0.001)
        assert scan.run() is ScanState.COMPLETED, scan.error
        manager.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)

    progress_updates = [s for s in statements if s.startswith("UPDATE scans SET")]
    assert len(progress_updates) >= 5, "the scan should have committed its progress often"
    assert not [s for s in statements if "scan_definitions" in s], "nothing touched the tree"
    assert definition_bytes(db, record_id) == before
    stored_tree, positions = before
    assert positions == rows.astype("<f8").tobytes()
    assert '"count": 250' in stored_tree or '"count":250' in stored_tree
    record = db.get_scan(record_id)
    assert (record.points_done, record.progress) == (1000, 1.0)
    rebuilt = ScanManager(db).rebuild_settings(record).scan_tree.items[0]
    assert rebuilt.positions.tobytes() == rows.tobytes()
    assert rebuilt.children[0].positions == Linspace(0.0, 1.0, 250)  # read back lazy
