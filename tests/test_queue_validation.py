"""A scan that cannot run is refused when it is queued, and one that fails before its first point
ends ``failed`` in the database with its error, never ``queued`` for ever.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from database_builders import count_rows, map_settings, wait_until
from pybirch.database import DatabaseService
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration import DatabaseQueue, ScanManager
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.queue import Queue
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree
from pybirch.scan.errors import ScanDefinitionError

XS = np.linspace(10.0, 50.0, 5)
YS = np.linspace(0.0, 30.0, 4)


def line(positions: object) -> Scan:
    """A 1-D scan of a stage limited to [0, 100] mm over ``positions``."""
    stage = FakeStage("Stage X", axis="x", limits=(0.0, 100.0))
    tree = ScanTree([MovementItem(stage, positions, children=[MeasurementItem(FakeLockin("L"))])])
    return Scan(ScanSettings("Graphene", "bad line", scan_tree=tree))


#: Positions that cannot run, and what the refusal must say.
UNRUNNABLE = {
    "nan": ([0.0, 1.0, float("nan")], "'Stage X'.*position 2 is nan"),
    "inf": ([0.0, float("inf")], "'Stage X'.*position 1 is inf"),
    "-inf": ([float("-inf"), 1.0], "'Stage X'.*position 0 is -inf"),
    "empty": ([], "'Stage X' has no positions"),
    "beyond the limit": ([0.0, 250.0], "Stage X.*250 mm is outside the limits"),
}


@pytest.fixture
def queue(db: DatabaseService) -> Iterator[DatabaseQueue]:
    queue = DatabaseQueue("checked", db, operator="alice")
    yield queue
    queue.abort()
    queue.close()


@pytest.mark.parametrize("case", UNRUNNABLE)
def test_a_scan_that_cannot_run_is_refused_when_queued(db, queue, case):
    positions, message = UNRUNNABLE[case]
    with pytest.raises(ScanDefinitionError, match=message):
        queue.enqueue(line(positions))
    assert queue.handles == []
    assert count_rows(db, ScanRecord) == 0  # nothing half-recorded, no raw DataError


def test_a_queue_without_a_database_refuses_it_too():
    with pytest.raises(ScanDefinitionError, match="position 2 is nan"):
        Queue("plain").enqueue(line([0.0, 1.0, float("nan")]))


def test_a_scan_broken_after_it_was_queued_ends_failed_with_its_error(db, queue):
    settings, _ = map_settings(XS, YS)
    handle = queue.enqueue(Scan(settings))
    record_id = queue.db_scan_id(handle.scan_id)
    stage_x = settings.scan_tree.instruments()[1]
    stage_x.limits = (0.0, 20.0)  # changed behind the queue's back: fails before any point

    queue.start()
    assert queue.wait_for_completion(timeout=60)

    wait_until(lambda: db.get_scan(record_id).status == "failed", what="the scan recorded failed")
    record = db.get_scan(record_id)
    assert "outside the limits" in record.error_message
    assert record.points_done == 0
    assert queue.get_incomplete_scans() == []  # never run again by requeue_incomplete


def test_requeue_incomplete_fails_a_stored_scan_that_cannot_run_and_requeues_the_rest(db):
    queue = DatabaseQueue("recovered", db, operator="alice")
    good, _ = map_settings(XS, YS, scan_name="good")
    bad, _ = map_settings(XS, YS, scan_name="bad")
    ids = [queue.db_scan_id(queue.enqueue(Scan(each)).scan_id) for each in (bad, good)]
    queue.close()
    tree = db.get_scan(ids[0]).scan_tree_data  # stored before the stage's limit shrank
    tree["instruments"]["Stage X"]["limits"] = [0.0, 20.0]
    db.update_scan(ids[0], scan_tree_data=tree)

    recovered = DatabaseQueue.from_database(db, "recovered")
    try:
        (rerun,) = recovered.requeue_incomplete()
        assert rerun.scan.settings.scan_name == "good"
        failed = db.get_scan(ids[0])
        assert failed.status == "failed"
        assert "outside the limits" in failed.error_message
        incomplete = [scan.id for scan in recovered.get_incomplete_scans()]
        assert incomplete == [recovered.db_scan_id(rerun.scan_id)]  # the failed one is not
    finally:
        recovered.close()


@pytest.mark.parametrize("case", ["nan", "inf", "beyond the limit"])
def test_a_record_is_never_made_for_settings_that_cannot_run(db, case):
    positions, message = UNRUNNABLE[case]
    manager = ScanManager(db)
    with pytest.raises(ScanDefinitionError, match=message):
        manager.create_scan(line(positions).settings)
    with pytest.raises(ScanDefinitionError, match=message):
        manager.create_scan_from_pybirch(line(positions))
    assert count_rows(db, ScanRecord) == 0
