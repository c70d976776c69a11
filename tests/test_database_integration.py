"""The integration layer on SQLite and PostgreSQL: what a scan and a queue leave in the database.

Every scan here runs on simulated instruments that remember each reading they returned
(see ``database_builders``), so the stored data is compared with what the instruments
gave, value by value.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from database_builders import (
    Hold,
    dead_pid,
    iv_currents,
    iv_settings,
    line_scan,
    map_settings,
    pybirch_sample,
    snake_grid,
    spectrum_settings,
    wait_until,
)
from pybirch.database import DatabaseService
from pybirch.database.models import Project
from pybirch.database.models import Sample as SampleRecord
from pybirch.database_integration import (
    DatabaseExtension,
    DatabaseQueue,
    DataManager,
    EquipmentManager,
    QueueManager,
    ScanManager,
    create_sample_from_pybirch,
)
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.queue import Queue, QueueStateError
from pybirch.queue.log import LogEntry, now
from pybirch.queue.samples import Sample as PyBirchSample
from pybirch.scan import DataBatch, Scan, ScanExtension, ScanSettings, ScanState

XS = np.linspace(10.0, 50.0, 5)
YS = np.linspace(0.0, 30.0, 4)


def tracked(db: DatabaseService, settings: ScanSettings, **options: object) -> tuple[Scan, int]:
    """A scan followed by a DatabaseExtension, made the way the seed's quick start makes it."""
    record = ScanManager(db).create_scan(settings)
    scan = Scan(settings, extensions=[DatabaseExtension(db, record.id)], **options)
    return scan, record.id


def start_in_thread(scan: Scan) -> threading.Thread:
    runner = threading.Thread(target=scan.run, daemon=True)
    runner.start()
    return runner


def status_of(db: DatabaseService, record_id: int) -> Callable[[], str]:
    return lambda: db.get_scan(record_id).status


# -- DatabaseExtension: a scan's life ---------------------------------------------------------


def test_extension_records_running_paused_running_completed(db):
    settings, lockin = map_settings(XS, YS)
    scan, record_id = tracked(db, settings, buffer_size=3)
    status = status_of(db, record_id)
    first_hold, second_hold = Hold(), Hold()
    lockin.before_reading[2] = first_hold
    lockin.before_reading[6] = scan.pause
    lockin.before_reading[12] = second_hold

    runner = start_in_thread(scan)
    first_hold.wait_reached()
    wait_until(lambda: status() == "running", what="the scan recorded running")
    record = db.get_scan(record_id)
    assert record.started_at is not None
    assert record.completed_at is None
    first_hold.release()

    assert scan.wait_for_state(ScanState.PAUSED, timeout=30)
    wait_until(lambda: status() == "paused", what="the scan recorded paused")
    # Every point taken before the pause is stored by the time the pause is.
    taken = len(lockin.readings)
    assert taken == 7  # the pause requested before reading 6 takes effect after it
    assert db.get_data_point_count(record_id) == taken
    assert db.get_scan(record_id).points_done == taken

    scan.resume()
    second_hold.wait_reached()
    wait_until(lambda: status() == "running", what="the scan recorded running again")
    assert scan.state is ScanState.RUNNING
    second_hold.release()
    runner.join(30)

    assert scan.state is ScanState.COMPLETED
    record = db.get_scan(record_id)
    assert record.status == "completed"
    assert record.points_done == record.total_points == len(XS) * len(YS)
    assert record.progress == 1.0
    assert record.started_at <= record.completed_at
    assert db.get_data_point_count(record_id) == len(XS) * len(YS)


def test_extension_records_an_aborted_scan_with_the_points_it_took(db):
    settings, meter = iv_settings(points=30)
    scan, record_id = tracked(db, settings, buffer_size=4)
    meter.before_reading[10] = scan.abort

    assert scan.run() is ScanState.ABORTED

    record = db.get_scan(record_id)
    assert record.status == "aborted"
    assert record.completed_at is not None
    assert record.points_done == len(meter.readings) == 11
    assert record.progress == pytest.approx(11 / 30)
    np.testing.assert_array_equal(db.read_scan_data(record_id).to_numpy(), meter.rows())


def test_extension_records_a_failed_scan_with_its_error_and_traceback(db):
    settings, meter = iv_settings(points=20)
    scan, record_id = tracked(db, settings, buffer_size=3)
    meter.fail_at = 7

    assert scan.run() is ScanState.FAILED

    record = db.get_scan(record_id)
    assert record.status == "failed"
    assert record.error_message == "RuntimeError: Multimeter lost its signal at reading 7"
    assert "RuntimeError: Multimeter lost its signal" in record.traceback
    assert "_perform_measurement_impl" in record.traceback
    assert record.completed_at is not None
    # the seven readings taken before the failure are kept
    assert record.points_done == 7
    np.testing.assert_array_equal(db.read_scan_data(record_id).to_numpy(), meter.rows())


def test_extension_records_instrument_settings_and_driver_versions(db):
    settings, lockin = map_settings(XS, YS)
    lockin.settings = {"phase": 45.0, "time_constant": 0.3}
    scan, record_id = tracked(db, settings)

    assert scan.run() is ScanState.COMPLETED

    record = db.get_scan(record_id)
    assert set(record.instrument_settings) == {"Stage X", "Stage Y", "Lock-in"}
    assert record.instrument_settings == scan.instrument_snapshot
    assert record.instrument_settings["Lock-in"]["settings"]["phase"] == 45.0
    assert record.instrument_settings["Lock-in"]["settings"]["time_constant"] == 0.3
    assert record.instrument_settings["Stage Y"]["settings"]["axis"] == "y"
    assert record.driver_versions["Stage X"] == {
        "kind": "installed",
        "class": "pybirch.instruments.simulated.stage.FakeStage",
        "version": importlib.metadata.version("pybirch"),
    }
    # a driver outside any installed package has no version to report
    assert record.driver_versions["Lock-in"] == {
        "kind": "installed",
        "class": "database_builders.RecordingLockin",
        "version": "unknown",
    }


def test_a_scan_whose_writes_fail_ends_failed_not_completed(db):
    settings, meter = iv_settings(points=5)
    record_id = ScanManager(db).create_scan(settings).id
    db.delete_scan(record_id)  # e.g. deleted from the web page while the scan ran
    scan = Scan(settings, extensions=[DatabaseExtension(db, record_id)])

    assert scan.run() is ScanState.FAILED

    assert len(meter.readings) == 5
    assert "database write(s) failed" in str(scan.error)
    assert f"Scan {record_id} not found" in str(scan.error)


# -- DatabaseExtension: every value stored ----------------------------------------------------


def test_1d_scan_stores_every_reading_position_and_point_index(db):
    settings, meter = iv_settings(points=25)
    scan, record_id = tracked(db, settings, buffer_size=4)

    assert scan.run() is ScanState.COMPLETED

    data = db.read_scan_data(record_id)
    assert data.layout.data_labels == ["voltage (V)", "current (A)"]
    # the source's commanded current is renamed: the meter also reads "current (A)"
    assert data.layout.position_labels == ["Current Source current (A)"]
    np.testing.assert_array_equal(data.to_numpy(), meter.rows())
    np.testing.assert_array_equal(data["Current Source current (A)"], iv_currents(25))
    np.testing.assert_array_equal(data.point_index, np.arange(25))
    np.testing.assert_array_equal(data.row_index, np.arange(25))
    timestamps = data["timestamp"]
    assert np.all(np.diff(timestamps) >= 0)
    assert scan.started_at <= timestamps[0] <= timestamps[-1] <= scan.finished_at
    assert db.get_scan(record_id).points_done == 25


def test_2d_scan_stores_the_grid_and_reads_back_as_xarray(db):
    settings, lockin = map_settings(XS, YS, snake=True)
    scan, record_id = tracked(db, settings, buffer_size=6)

    assert scan.run() is ScanState.COMPLETED

    data = db.read_scan_data(record_id)
    rows = lockin.rows()
    order = snake_grid(XS, YS)
    assert data.layout.position_labels == ["y (mm)", "x (mm)"]
    np.testing.assert_array_equal(data.to_numpy(), rows)
    np.testing.assert_array_equal(np.column_stack([data["y (mm)"], data["x (mm)"]]), order)
    np.testing.assert_array_equal(data.point_index, np.arange(len(order)))

    grid = data.to_xarray()
    np.testing.assert_array_equal(grid["y (mm)"], YS)
    np.testing.assert_array_equal(grid["x (mm)"], XS)
    for column, label in enumerate(["X (V)", "Y (V)", "R (V)", "Theta (deg)"]):
        assert grid[label].dims == ("y (mm)", "x (mm)")
        expected = np.full((len(YS), len(XS)), np.nan)
        for (y, x), value in zip(order, rows[:, column], strict=True):
            expected[np.searchsorted(YS, y), np.searchsorted(XS, x)] = value
        np.testing.assert_array_equal(grid[label].values, expected)
    assert grid["R (V)"].attrs["units"] == "V"
    assert grid["x (mm)"].attrs["units"] == "mm"


def test_spectra_store_many_rows_per_point(db):
    positions = np.array([5.0, 10.0, 15.0, 20.0])
    settings, spectrometer = spectrum_settings(positions, pixels=64)
    scan, record_id = tracked(db, settings, buffer_size=100)  # one spectrum per batch

    assert scan.run() is ScanState.COMPLETED

    (measurement,) = db.get_measurement_objects(record_id)
    data = db.read_measurement(measurement.id)
    spectra = np.stack(spectrometer.readings)  # points x pixels x (wavelength, intensity)
    assert data.point_shape == (64,)
    assert len(data) == db.get_row_count(measurement.id) == 4 * 64
    assert db.get_data_point_count(record_id) == 4
    np.testing.assert_array_equal(data.arrays("wavelength (nm)"), spectra[:, :, 0])
    np.testing.assert_array_equal(data.arrays("intensity (counts)"), spectra[:, :, 1])
    np.testing.assert_array_equal(data["x (mm)"], np.repeat(positions, 64))
    np.testing.assert_array_equal(data.point_index, np.repeat(np.arange(4), 64))
    # a range read of one spectrum's rows gives that spectrum
    second = db.read_measurement(measurement.id, 64, 128)
    np.testing.assert_array_equal(second.arrays("intensity (counts)"), spectra[1:2, :, 1])
    np.testing.assert_array_equal(second.point_index, np.full(64, 1))


# -- DatabaseQueue ------------------------------------------------------------------------------


@dataclass
class Lab:
    project: Project
    sample: SampleRecord


@pytest.fixture
def lab(db: DatabaseService) -> Lab:
    """A stored project and sample for queues to work in."""
    project = db.create_project("Graphene")
    return Lab(project, create_sample_from_pybirch(db, pybirch_sample(), project_id=project.id))


@pytest.fixture
def make_queue(db: DatabaseService, lab: Lab) -> Iterator[Callable[..., DatabaseQueue]]:
    """Makes DatabaseQueues of operator alice in the lab's project and sample; closes them."""
    queues: list[DatabaseQueue] = []

    def make(qid: str, **options: object) -> DatabaseQueue:
        queue = DatabaseQueue(qid, db, lab.project.id, lab.sample.id, "alice", **options)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        queue.abort()
        queue.close()


def test_parallel_queue_runs_two_scans_at_once_and_stores_everything(db, lab, make_queue):
    iv, meter = iv_settings(points=15)
    grid, lockin = map_settings(XS, YS)
    # Each scan's first reading waits for the other's: only scans running together pass.
    together = threading.Barrier(2, timeout=30)
    meter.before_reading[0] = together.wait
    lockin.before_reading[0] = together.wait
    queue = make_queue("parallel", mode="parallel", max_parallel_scans=2)
    handles = [queue.enqueue(Scan(iv, buffer_size=4)), queue.enqueue(Scan(grid, buffer_size=4))]

    queue.start()
    assert queue.wait_for_completion(timeout=60)

    assert [handle.state for handle in handles] == [ScanState.COMPLETED] * 2
    record = db.get_queue_with_scans("parallel")
    assert (record.execution_mode, record.max_parallel_scans) == ("parallel", 2)
    assert (record.completed_scans, record.total_scans) == (2, 2)
    assert record.status == "idle"
    assert [scan.scan_id for scan in record.scans] == [handle.scan_id for handle in handles]
    for handle, instrument in zip(handles, (meter, lockin), strict=True):
        scan = db.get_scan(queue.db_scan_id(handle.scan_id))
        assert scan.status == "completed"
        assert (scan.project_id, scan.sample_id, scan.operator, scan.queue_id) == (
            lab.project.id,
            lab.sample.id,
            "alice",
            record.id,
        )
        assert scan.points_done == scan.total_points == len(instrument.readings)
        np.testing.assert_array_equal(db.read_scan_data(scan.id).to_numpy(), instrument.rows())


def test_queue_links_each_scan_to_its_own_sample_or_the_queue_sample(db, lab, make_queue):
    other = create_sample_from_pybirch(db, pybirch_sample("S-002"))
    queue = make_queue("samples")
    settings = [iv_settings(points=3, scan_name=f"IV {n}")[0] for n in range(3)]
    handles = [
        queue.enqueue(Scan(settings[0], sample=pybirch_sample("S-NEW", material="WSe2"))),
        queue.enqueue(Scan(settings[1], sample=pybirch_sample("S-002"))),
        queue.enqueue(Scan(settings[2])),
    ]

    new = db.get_sample_by_id("S-NEW")  # stored when its scan was queued
    assert (new.material, new.project_id) == ("WSe2", lab.project.id)
    linked = [db.get_scan(queue.db_scan_id(h.scan_id)).sample_id for h in handles]
    assert linked == [new.id, other.id, lab.sample.id]


def test_queue_status_transitions_and_logs_are_persisted(db, make_queue):
    settings, lockin = map_settings(XS, YS)
    hold = Hold()
    lockin.before_reading[3] = hold
    queue = make_queue("transitions")

    def queue_status() -> str:
        return db.get_queue(queue.db_queue_id).status

    assert queue_status() == "idle"
    handle = queue.enqueue(Scan(settings))
    scan_status = status_of(db, queue.db_scan_id(handle.scan_id))
    assert scan_status() == "queued"

    queue.start()
    hold.wait_reached()  # three points taken
    wait_until(lambda: queue_status() == "running" and scan_status() == "running")
    assert db.get_queue(queue.db_queue_id).started_at is not None
    wait_until(  # counted when a scan starts, not only when it ends
        lambda: db.get_queue(queue.db_queue_id).total_scans == 1, what="the scan counted"
    )
    queue.pause()
    wait_until(lambda: queue_status() == "paused", what="the queue recorded paused")
    hold.release()  # the scan takes reading 3, then pauses
    wait_until(lambda: scan_status() == "paused", what="the scan recorded paused")
    queue.resume()
    assert queue.wait_for_completion(timeout=60)

    assert queue_status() == "idle"
    assert scan_status() == "completed"
    stored = [(e.level, e.message, e.scan_id) for e in db.get_queue_logs(queue.db_queue_id)]
    in_memory = [(e.level, e.message, e.scan_id) for e in queue.get_logs()]
    assert sorted(stored) == sorted(in_memory)
    queue_messages = [message for _, message, scan_id in stored if scan_id is None]
    assert queue_messages == [
        "queue started",
        "queue paused",
        "queue resumed",
        "queue idle: 1 completed",
    ]
    label = f"'Lock-in map' ({handle.scan_id[:8]})"
    scan_messages = [message for _, message, scan_id in stored if scan_id == handle.scan_id]
    assert scan_messages == [
        f"queued scan {label} at position 0",
        f"scan {label} started",
        f"scan {label} paused at 20%",
        f"scan {label} resumed",
        f"scan {label} completed",
    ]
    # entries about the scan are also in the scan's own log
    scan_log = db.get_scan_logs(queue.db_scan_id(handle.scan_id))
    assert [entry.message for entry in scan_log] == scan_messages


def test_a_scan_aborted_before_it_started_is_recorded_aborted(db, make_queue):
    first, lockin = map_settings(XS, YS)
    hold = Hold()
    lockin.before_reading[0] = hold
    second, meter = iv_settings()
    queue = make_queue("abort-early")
    running = queue.enqueue(Scan(first))
    waiting = queue.enqueue(Scan(second))

    queue.start()
    hold.wait_reached()
    queue.abort_scan(waiting.scan_id)
    hold.release()
    assert queue.wait_for_completion(timeout=60)

    aborted = db.get_scan(queue.db_scan_id(waiting.scan_id))
    assert aborted.status == "aborted"
    assert aborted.started_at is None
    assert aborted.completed_at is not None
    assert db.get_measurement_objects(aborted.id) == []
    assert meter.readings == []
    assert db.get_scan(queue.db_scan_id(running.scan_id)).status == "completed"
    record = db.get_queue(queue.db_queue_id)
    assert (record.completed_scans, record.total_scans) == (2, 2)
    warnings = db.get_queue_logs(queue.db_queue_id, level="WARNING")
    assert [(e.scan_id, e.message.endswith("aborted before it started")) for e in warnings] == [
        (waiting.scan_id, True)
    ]


def crashed_queue(db: DatabaseService, lab: Lab, qid: str) -> list[int]:
    """A queue whose process died running the first of its two scans; the scans' record ids."""
    queue = DatabaseQueue(qid, db, lab.project.id, lab.sample.id, "alice")
    first, _ = iv_settings(points=12)
    second, _ = map_settings(XS, YS)
    handles = [queue.enqueue(Scan(first)), queue.enqueue(Scan(second))]
    ids = [queue.db_scan_id(handle.scan_id) for handle in handles]
    queue.close()
    # What the database holds when the process running the queue is killed.
    db.update_queue_status(queue.db_queue_id, "running", extra_data={"pid": dead_pid()})
    db.update_scan_status(ids[0], "running", points_done=5)
    return ids


def test_from_database_marks_a_dead_process_queue_interrupted_and_reruns_it(db, lab):
    first_id, second_id = crashed_queue(db, lab, "crashed")

    recovered = DatabaseQueue.from_database(db, "crashed")
    try:
        record = db.get_queue("crashed")
        assert record.status == "interrupted"
        assert record.completed_at is not None
        interrupted = db.get_scan(first_id)
        assert interrupted.status == "interrupted"
        assert "interrupted" in interrupted.error_message
        assert db.get_scan(second_id).status == "queued"  # it never started: it can still run
        (warning,) = db.get_queue_logs(record.id, level="WARNING")
        assert warning.message.endswith("1 scan(s) marked interrupted")
        assert [scan.id for scan in recovered.get_incomplete_scans()] == [first_id, second_id]

        reruns = recovered.requeue_incomplete()
        assert db.get_scan(second_id).status == "aborted"  # replaced by its re-run
        recovered.start()
        assert recovered.wait_for_completion(timeout=60)

        assert [handle.state for handle in reruns] == [ScanState.COMPLETED] * 2
        for handle, original_id in zip(reruns, (first_id, second_id), strict=True):
            original = db.get_scan(original_id)
            rerun = db.get_scan(recovered.db_scan_id(handle.scan_id))
            assert rerun.status == "completed"
            assert rerun.scan_name == original.scan_name
            assert rerun.queue_id == record.id
            assert (rerun.project_id, rerun.sample_id, rerun.operator) == (
                lab.project.id,
                lab.sample.id,
                "alice",
            )
            assert db.get_data_point_count(rerun.id) == rerun.total_points == original.total_points
        assert db.get_queue(record.id).status == "idle"
    finally:
        recovered.close()


def test_a_rerun_scan_is_not_incomplete_any_more(db, lab):
    crashed_queue(db, lab, "crashed-twice")
    recovered = DatabaseQueue.from_database(db, "crashed-twice")
    try:
        recovered.requeue_incomplete()
        recovered.start()
        assert recovered.wait_for_completion(timeout=60)
        assert recovered.get_incomplete_scans() == []
    finally:
        recovered.close()


def test_from_database_refuses_a_queue_a_live_process_runs(db):
    queue = DatabaseQueue("alive", db)
    queue.close()
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        db.update_queue_status(queue.db_queue_id, "running", extra_data={"pid": runner.pid})
        with pytest.raises(QueueStateError, match=f"process {runner.pid}"):
            DatabaseQueue.from_database(db, "alive")
        assert db.get_queue("alive").status == "running"
    finally:
        runner.kill()
        runner.wait()


# -- DataManager --------------------------------------------------------------------------------


class BatchCatcher(ScanExtension):
    """Keeps every batch a scan delivers, to write them again elsewhere."""

    def __init__(self) -> None:
        self.batches: list[DataBatch] = []

    def save_batch(self, batch: DataBatch) -> None:
        self.batches.append(batch)


def test_data_manager_stores_batches_from_many_threads_exactly_once(db):
    scans = []  # (record id, batches, rows the instrument returned) per scan
    for offset in range(6):
        settings, lockin = map_settings(XS + offset, YS, scan_name=f"map {offset}")
        catcher = BatchCatcher()
        assert Scan(settings, extensions=[catcher], buffer_size=3).run() is ScanState.COMPLETED
        scans.append((ScanManager(db).create_scan(settings).id, catcher.batches, lockin.rows()))
    manager = DataManager(db)
    start = threading.Barrier(len(scans), timeout=30)

    def write(record_id: int, batches: list[DataBatch]) -> None:
        start.wait()
        for batch in batches:
            manager.write_batch(record_id, batch)

    writers = [threading.Thread(target=write, args=scan[:2]) for scan in scans]
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(60)
        assert manager.flush(60)
        assert manager.errors == []
    finally:
        manager.close()

    for record_id, _, rows in scans:
        (measurement,) = db.get_measurement_objects(record_id)
        data = db.read_measurement(measurement.id)
        assert db.get_row_count(measurement.id) == len(rows)
        np.testing.assert_array_equal(data.row_index, np.arange(len(rows)))
        np.testing.assert_array_equal(data.point_index, np.arange(len(rows)))
        np.testing.assert_array_equal(data.to_numpy(), rows)


# -- managers -----------------------------------------------------------------------------------


def test_scan_manager_follows_a_record_through_its_life(db):
    sample = create_sample_from_pybirch(db, pybirch_sample())
    settings, _ = iv_settings(points=9)
    settings.additional_tags.append("calibration")
    settings.user_fields["cryostat"] = "A"
    manager = ScanManager(db)

    record = manager.create_scan(settings, sample_id=sample.id, operator="bob")
    assert (record.status, record.total_points) == ("queued", 9)
    assert (record.scan_name, record.project_name) == ("IV sweep", "Graphene")
    assert (record.sample_id, record.operator) == (sample.id, "bob")
    assert manager.get_scan(record.scan_id).id == record.id

    running = manager.start_scan(record.id)
    assert running.status == "running"
    assert running.started_at is not None
    paused = manager.pause_scan(record.id)
    assert (paused.status, paused.started_at) == ("paused", running.started_at)
    completed = manager.complete_scan(record.id)
    assert (completed.status, completed.progress) == ("completed", 1.0)
    assert completed.completed_at is not None

    rebuilt = manager.rebuild_settings(manager.get_scan(record.id))
    assert rebuilt.to_dict() == settings.to_dict()


def test_scan_manager_records_failed_and_aborted_scans(db):
    settings, _ = iv_settings()
    manager = ScanManager(db)

    failed = manager.fail_scan(manager.create_scan(settings).id, ValueError("bad contact"))
    assert (failed.status, failed.error_message) == ("failed", "ValueError: bad contact")
    stopped = manager.fail_scan(manager.create_scan(settings).id, "cryostat warmed up")
    assert stopped.error_message == "cryostat warmed up"
    aborted = manager.abort_scan(manager.create_scan(settings).id)
    assert aborted.status == "aborted"
    assert aborted.completed_at is not None


def test_scan_manager_links_a_pybirch_scan_to_its_stored_sample_and_project(db):
    project = db.create_project("Graphene")
    stored = create_sample_from_pybirch(db, pybirch_sample("S-7"))
    scan = line_scan(points=7, sample=pybirch_sample("S-7"))

    record = ScanManager(db).create_scan_from_pybirch(scan)

    assert (record.sample_id, record.project_id) == (stored.id, project.id)
    assert record.total_points == 7


def test_queue_manager_records_status_progress_logs_and_interruptions(db):
    manager = QueueManager(db)
    scans = ScanManager(db)
    queue = Queue("Q-manager", mode="parallel", max_parallel_scans=3)

    record = manager.create_queue(queue, operator="carol")
    assert (record.status, record.execution_mode, record.max_parallel_scans) == (
        "idle",
        "parallel",
        3,
    )
    assert manager.create_queue(queue).id == record.id  # one record per QID
    assert manager.get_queue("Q-manager").operator == "carol"

    changes = [
        manager.start_queue,
        manager.pause_queue,
        manager.resume_queue,
        manager.stop_queue,
        manager.complete_queue,
    ]
    assert [change(record.id).status for change in changes] == [
        "running",
        "paused",
        "running",
        "stopping",
        "completed",
    ]
    finished = manager.get_queue(record.id)
    assert finished.started_at <= finished.completed_at

    progress = manager.update_progress(record.id, 1, 3)
    assert (progress.completed_scans, progress.total_scans) == (1, 3)
    entry = LogEntry(now(), "WARNING", "humidity above 60 %", scan_id="abc123", queue_id="Q")
    log = manager.add_log(record.id, entry)
    assert (log.level, log.message, log.scan_id) == ("WARNING", "humidity above 60 %", "abc123")

    settings, _ = iv_settings()
    done, running, waiting = (scans.create_scan(settings, queue_id=record.id) for _ in range(3))
    manager.add_log(
        record.id, LogEntry(now(), "INFO", "cooling down", scan_id=running.scan_id), running.id
    )
    assert [e.message for e in db.get_scan_logs(running.id)] == ["cooling down"]
    assert db.get_queue_logs(record.id)[-1].scan_id == running.scan_id
    scans.complete_scan(done.id)
    scans.start_scan(running.id)
    assert [s.id for s in scans.get_scans_for_queue(record.id)] == [done.id, running.id, waiting.id]
    assert [s.id for s in manager.get_incomplete_scans(record.id)] == [running.id, waiting.id]

    manager.set_status(record.id, "running")
    marked = manager.mark_interrupted(record.id, "power cut")
    assert [scan.id for scan in marked] == [running.id]
    assert db.get_scan(running.id).status == "interrupted"
    assert db.get_scan(running.id).error_message == "power cut"
    assert db.get_scan(waiting.id).status == "queued"
    assert manager.get_queue(record.id).status == "interrupted"


class UnpluggedLockin(FakeLockin):
    """A lock-in whose USB cable is out."""

    def _connect_impl(self) -> bool:
        raise OSError("no USB device")


class SilentLockin(FakeLockin):
    """A lock-in that does not answer."""

    def _connect_impl(self) -> bool:
        return False


def test_equipment_manager_registers_instruments_and_remembers_settings(db):
    manager = EquipmentManager(db)
    lockin = FakeLockin("Lock-in 1")
    stage = FakeStage("Stage X")

    lockin_record, stage_record = manager.register_all([lockin, stage])
    assert (lockin_record.instrument_type, stage_record.instrument_type) == (
        "measurement",
        "movement",
    )
    assert lockin_record.pybirch_class == "pybirch.instruments.simulated.lockin.FakeLockin"
    assert manager.register(lockin).id == lockin_record.id  # refreshed, not duplicated
    assert [record.name for record in manager.by_type("movement")] == ["Stage X"]
    assert [record.name for record in manager.by_type("measurement")] == ["Lock-in 1"]

    lockin.settings = {"phase": -45.0, "time_constant": 0.3}
    status = manager.update_status(lockin_record.id, "connected", lockin)
    assert status.current_settings == lockin.settings
    stored = db.get_instrument(lockin_record.id)
    assert stored.status == "connected"
    assert stored.last_connected is not None
    assert stored.last_settings == lockin.settings
    assert manager.last_settings("Lock-in 1") == lockin.settings

    replacement = FakeLockin("Lock-in 1")
    assert replacement.settings["phase"] == 0.0
    assert manager.apply_last_settings(replacement) == lockin.settings
    assert replacement.settings == lockin.settings

    newcomer = FakeStage("Stage Z", axis="z")
    assert manager.last_settings("Stage Z") == {}
    assert manager.apply_last_settings(newcomer) == {}
    assert newcomer.settings["axis"] == "z"


def test_equipment_manager_check_records_what_the_instrument_answers(db):
    manager = EquipmentManager(db)
    record = manager.register(FakeLockin("Lock-in"))

    assert manager.check(record.id, FakeLockin("Lock-in")).status == "connected"
    silent = manager.check(record.id, SilentLockin("Lock-in"))
    assert (silent.status, silent.current_settings) == ("disconnected", None)
    unplugged = manager.check(record.id, UnpluggedLockin("Lock-in"))
    assert (unplugged.status, unplugged.error_message) == ("error", "OSError: no USB device")

    history = db.get_instrument_status_history(record.id)
    assert [entry.status for entry in history] == ["error", "disconnected", "connected"]
    assert db.get_instrument(record.id).status == "error"


def test_a_queue_recorded_running_on_another_computer_is_only_taken_over_with_force(
    db: DatabaseService,
) -> None:
    DatabaseQueue("elsewhere", db).close()
    record = db.get_queue("elsewhere")
    db.update_queue_status(record.id, "running", computer_name="other-host")

    with pytest.raises(QueueStateError, match="other-host"):
        DatabaseQueue.from_database(db, "elsewhere")
    with pytest.raises(QueueStateError, match="other-host"):
        DatabaseQueue("elsewhere", db)
    assert db.get_queue("elsewhere").status == "running"

    recovered = DatabaseQueue.from_database(db, "elsewhere", force=True)
    recovered.close()
    assert db.get_queue("elsewhere").status == "interrupted"


def test_a_new_queue_taking_the_qid_of_a_dead_run_marks_that_run_interrupted(
    db: DatabaseService,
) -> None:
    DatabaseQueue("reborn", db).close()
    record = db.get_queue("reborn")
    scan = db.create_scan("left running", queue_id=record.id)
    db.update_scan_status(scan.id, "running")
    db.update_queue_status(record.id, "running", extra_data={"pid": dead_pid()})

    queue = DatabaseQueue("reborn", db)
    queue.close()

    assert db.get_queue("reborn").status == "interrupted"
    assert db.get_scan(scan.id).status == "interrupted"
    assert queue.db_queue_id == record.id


def test_the_operator_is_recorded_as_the_creator_of_the_queue_scan_and_sample(
    db: DatabaseService,
) -> None:
    settings, _ = iv_settings(points=5)
    queue = DatabaseQueue("operated", db, operator="alice")
    handle = queue.enqueue(Scan(settings, PyBirchSample("OP-1", "Si")))
    queue.start()
    assert queue.wait_for_completion(timeout=30)
    queue.close()

    alice = db.get_user_by_username("alice")
    assert alice is not None
    assert db.get_queue("operated").created_by_id == alice.id
    scan = db.get_scan(handle.scan_id)
    assert scan.created_by_id == alice.id
    assert scan.status == "completed"
    sample = db.get_sample_by_id("OP-1")
    assert sample is not None
    assert sample.created_by_id == alice.id

    DatabaseQueue("operated", db, operator="bob").close()
    assert db.get_queue("operated").created_by_id == alice.id
