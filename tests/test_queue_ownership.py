"""A queue belongs to its lab: its name is the lab's own, and a running queue is never taken over.

Each test attacks the way the hardening probe did: a queue of lab B named like lab A's
running queue, the same QID in two labs from Python, the demo seeded into two labs. Nothing
may move: lab A's record keeps its lab and its status, and its running scan goes on.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from database_builders import Hold, map_settings, wait_until
from pybirch.database import DatabaseService
from pybirch.database.errors import DatabaseError, DuplicateError, NotFoundError
from pybirch.database.services.queues import QueueRunningError
from pybirch.database_integration import DatabaseQueue, create_queue_from_pybirch
from pybirch.demo.web_lab import LIVE_QUEUE, live_demo_queue, seed_demo_lab
from pybirch.queue import QueueStateError
from pybirch.scan import Scan

XS = np.linspace(10.0, 50.0, 5)
YS = np.linspace(0.0, 30.0, 4)


class RunningQueue:
    """Lab A's queue ``main``, its one scan held at its second point."""

    def __init__(self, db: DatabaseService, lab_id: int, qid: str = "main") -> None:
        settings, lockin = map_settings(XS, YS)
        self.hold = Hold(timeout=60)
        lockin.before_reading[1] = self.hold
        self.queue = DatabaseQueue(qid, db, operator="alice", lab_id=lab_id)
        self.handle = self.queue.enqueue(Scan(settings))
        self.scan_pk = self.queue.db_scan_id(self.handle.scan_id)
        self.queue.start()
        self.hold.wait_reached()
        wait_until(
            lambda: (
                db.get_queue(self.queue.db_queue_id).status == "running"
                and db.get_scan(self.scan_pk).status == "running"
            ),
            timeout=60,
            what="the queue and its scan recorded running",
        )

    def finish(self) -> None:
        self.hold.release()
        assert self.queue.wait_for_completion(timeout=60)
        self.queue.close()


@pytest.fixture
def labs(db: DatabaseService) -> tuple[int, int]:
    return db.create_lab("Lab A").id, db.create_lab("Lab B").id


@pytest.fixture
def running(db: DatabaseService, labs: tuple[int, int]) -> Iterator[RunningQueue]:
    running = RunningQueue(db, labs[0])
    yield running
    running.hold.release()
    running.queue.abort()
    running.queue.close()


def assert_untouched(db: DatabaseService, running: RunningQueue, lab_a: int) -> None:
    record = db.get_queue(running.queue.db_queue_id)
    assert (record.lab_id, record.status) == (lab_a, "running")
    assert db.get_scan(running.scan_pk).status == "running"
    assert db.get_scan(running.scan_pk).lab_id == lab_a
    assert db.get_queue("main", lab_id=lab_a).id == record.id  # the victim still finds it


def test_the_same_qid_in_another_lab_is_another_queue(db, labs, running):
    lab_a, lab_b = labs
    theirs = DatabaseQueue("main", db, operator="mallory", lab_id=lab_b)
    theirs.close()

    assert theirs.db_queue_id != running.queue.db_queue_id
    assert db.get_queue("main", lab_id=lab_b).lab_id == lab_b
    assert_untouched(db, running, lab_a)
    running.finish()
    assert db.get_scan(running.scan_pk).status == "completed"


def test_a_running_queue_cannot_be_made_again_in_its_own_lab(db, labs, running):
    lab_a, _ = labs
    with pytest.raises(QueueStateError, match="'main' is running in this process"):
        DatabaseQueue("main", db, operator="mallory", lab_id=lab_a)
    assert_untouched(db, running, lab_a)


def test_a_queue_without_a_lab_is_not_a_labs_queue(db, labs, running):
    lab_a, _ = labs
    script = DatabaseQueue("main", db, operator="script")
    script.close()

    assert db.get_queue("main").lab_id is None
    assert script.db_queue_id != running.queue.db_queue_id
    assert_untouched(db, running, lab_a)


def test_from_database_finds_a_qid_only_in_its_lab(db, labs, running):
    lab_a, lab_b = labs
    with pytest.raises(NotFoundError):
        DatabaseQueue.from_database(db, "main", lab_id=lab_b)
    with pytest.raises(NotFoundError):
        DatabaseQueue.from_database(db, "main")
    with pytest.raises(QueueStateError, match="running in this process"):
        DatabaseQueue.from_database(db, "main", lab_id=lab_a)
    assert_untouched(db, running, lab_a)


def test_the_service_never_reuses_a_live_record_nor_moves_one(db, labs, running):
    lab_a, lab_b = labs
    with pytest.raises(QueueRunningError, match=r"'main'.*running"):
        create_queue_from_pybirch(db, running.queue, lab_id=lab_a, operator="mallory")
    other = create_queue_from_pybirch(db, running.queue, lab_id=lab_b)
    assert other.id != running.queue.db_queue_id
    with pytest.raises(DuplicateError):
        db.create_queue("main", lab_id=lab_a)
    with pytest.raises(DatabaseError, match="never moves"):
        db.update_queue(running.queue.db_queue_id, lab_id=lab_b)
    with pytest.raises(DatabaseError, match="never moves"):
        db.update_queue_status(running.queue.db_queue_id, "running", lab_id=lab_b)
    assert_untouched(db, running, lab_a)


def test_queue_names_without_a_lab_are_unique_too(db):
    db.create_queue("night")
    with pytest.raises(DuplicateError):
        db.create_queue("night")


def test_the_demo_seeded_into_two_labs_keeps_each_labs_queues(db, labs):
    lab_a, lab_b = labs
    seed_demo_lab(db, lab_a)
    live_a = live_demo_queue(db, lab_a)
    try:
        history_a = db.get_queue("demo-history", lab_id=lab_a)
        scans_a = {scan.id for scan in db.get_queue_with_scans(history_a.id).scans}

        seed_demo_lab(db, lab_b)
        live_b = live_demo_queue(db, lab_b)
        live_b.close()

        assert db.get_queue("demo-history", lab_id=lab_a).id == history_a.id
        assert {scan.id for scan in db.get_queue_with_scans(history_a.id).scans} == scans_a
        assert all(db.get_scan(pk).lab_id == lab_a for pk in scans_a)
        assert db.get_queue("demo-history", lab_id=lab_b).id != history_a.id
        assert live_b.db_queue_id != live_a.db_queue_id
        assert db.get_queue(LIVE_QUEUE, lab_id=lab_a).lab_id == lab_a
        assert db.search_queues(lab_id=lab_a).total == db.search_queues(lab_id=lab_b).total == 2
    finally:
        live_a.close()
