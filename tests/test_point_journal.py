"""The point journal (pybirch.scan.journal): points written as measured, read back after a kill."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database_integration.managers.data_manager import DataManager
from pybirch.scan.batch import MeasurementColumns
from pybirch.scan.journal import SUFFIX, PointJournal, orphaned_journals, read_segment

#: A spectrum of 4 rows per point under two movements (y outer, x the parent).
SPECTRUM = MeasurementColumns("Spectrometer", "spectro", ("intensity (a.u.)",), ("y (m)", "x (m)"))
ROWS = 4
XS = np.linspace(0.0, 1.0, 7)
YS = (10.0, 20.0, 30.0)


def spectrum(point: int) -> bytes:
    """The readings of one point: 4 rows, distinct for every point."""
    return (np.arange(ROWS, dtype=np.float64) + 100.0 * point).tobytes()


def write_grid(journal: PointJournal) -> int:
    """A 3 x 7 grid, snake-free; returns the number of points written."""
    point = 0
    for y in YS:
        journal.begin_pass(point, (y,))
        for x in XS:
            journal.point(spectrum(point), 1000.0 + point, float(x))
            point += 1
    return point


def read_back(directory: Path) -> dict[str, np.ndarray]:
    """Every point of every kept segment, columns concatenated in point order."""
    parts = []
    for orphan in orphaned_journals(directory):
        segment = read_segment(orphan.path)
        orphan.release(delete=False)
        end = segment.first_point + segment.point_count
        parts.append(segment.batch(segment.first_point, end).columns())
    return {label: np.concatenate([part[label] for part in parts]) for label in parts[0]}


def test_a_kept_journal_gives_back_every_point_across_segments(tmp_path: Path) -> None:
    # Small segments: the grid spans several, each must stand on its own.
    journal = PointJournal(tmp_path, SPECTRUM, {"scan_id": 7}, segment_bytes=512)
    points = write_grid(journal)
    assert len(journal.paths) > 2
    journal.close()  # nothing released: every segment is kept, unlocked

    columns = read_back(tmp_path)

    expected = np.concatenate([np.frombuffer(spectrum(p)) for p in range(points)])
    np.testing.assert_array_equal(columns["intensity (a.u.)"], expected)
    np.testing.assert_array_equal(columns["point_index"], np.repeat(np.arange(points), ROWS))
    np.testing.assert_array_equal(columns["x (m)"], np.repeat(np.tile(XS, len(YS)), ROWS))
    np.testing.assert_array_equal(columns["y (m)"], np.repeat(np.repeat(YS, len(XS)), ROWS))
    np.testing.assert_array_equal(columns["timestamp"], np.repeat(1000.0 + np.arange(points), ROWS))


def test_a_record_cut_short_by_the_kill_ends_the_segment(tmp_path: Path) -> None:
    journal = PointJournal(tmp_path, SPECTRUM, {"scan_id": 7})
    write_grid(journal)
    (path,) = journal.paths
    journal.close()
    segment = read_segment(path)
    # The last record's commit word (its last 8 bytes, before the zero-filled rest) was
    # not written yet when the process died. Records here are all multiples of 8 bytes.
    content = bytearray(path.read_bytes())
    end = -(-len(content.rstrip(b"\0")) // 8) * 8
    content[end - 8 : end] = bytes(8)
    path.write_bytes(bytes(content))

    cut = read_segment(path)

    assert cut.point_count == segment.point_count - 1
    assert cut.data == segment.data[:-1]


def test_released_segments_are_deleted_and_a_fully_released_journal_leaves_nothing(
    tmp_path: Path,
) -> None:
    journal = PointJournal(tmp_path, SPECTRUM, {"scan_id": 7}, segment_bytes=512)
    points = write_grid(journal)
    first_segments = len(journal.paths)

    journal.release(points // 2)
    assert 0 < len(journal.paths) < first_segments
    journal.release(points)
    journal.close()

    assert list(tmp_path.glob(f"*{SUFFIX}")) == []


def test_replay_stores_only_the_journaled_points_no_chunk_holds(db: DatabaseService) -> None:
    scan_id = db.create_scan("journal replay", project_name="journal").id
    manager = DataManager(db)
    journal = manager.open_journal(scan_id, SPECTRUM)
    points = write_grid(journal)
    # The first 9 points reached the database as a batch; the rest only the journal.
    (path,) = journal.paths
    manager.write_batch(scan_id, read_segment(path).batch(0, 9))
    assert manager.flush(timeout=60)
    journal.close()  # as a kill would, with points not released
    manager.close()

    replayed = DataManager(db).replayed_chunks

    assert replayed == 1
    data = db.read_scan_data(scan_id, "Spectrometer")
    np.testing.assert_array_equal(data.point_index, np.repeat(np.arange(points), ROWS))
    expected = np.concatenate([np.frombuffer(spectrum(p)) for p in range(points)])
    np.testing.assert_array_equal(data["intensity (a.u.)"], expected)
    np.testing.assert_array_equal(data["x (m)"], np.repeat(np.tile(XS, len(YS)), ROWS))
    assert list(path.parent.glob(f"*{SUFFIX}")) == []


def test_a_segment_killed_before_its_header_was_whole_is_replayed_as_empty_and_goes(
    db: DatabaseService,
) -> None:
    scan_id = db.create_scan("journal header", project_name="journal").id
    manager = DataManager(db)
    journal = manager.open_journal(scan_id, SPECTRUM)
    (path,) = journal.paths
    header = path.read_bytes()[:64]
    journal.close()
    manager.close()
    directory = path.parent
    # As the kill leaves them: made and zero-filled, and a header half copied in.
    (directory / f"dead-000001{SUFFIX}").write_bytes(bytes(4096))
    (directory / f"dead-000002{SUFFIX}").write_bytes(header[:20] + bytes(4096))
    (directory / f"alien-000001{SUFFIX}").write_bytes(b"not a journal" + bytes(4096))

    DataManager(db).close()

    assert sorted(p.name for p in directory.glob(f"*{SUFFIX}")) == [f"alien-000001{SUFFIX}"]
