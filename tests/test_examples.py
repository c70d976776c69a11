"""The examples in ``examples/`` run as a user runs them and leave the database they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pybirch.database import DatabaseService

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` in ``cwd`` with a private data directory; it must succeed."""
    env = {**os.environ, "PYBIRCH_DATA_DIR": str(cwd / "data")}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result


def leftover_spool_files(cwd: Path) -> list[Path]:
    """Spool files with data the example did not commit (an empty one is harmless)."""
    return [p for p in (cwd / "data").rglob("*.spool") if p.stat().st_size > 0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


def test_quickstart_records_a_completed_scan_of_the_stored_sample(workdir: Path):
    result = run_example("quickstart.py", workdir)

    with DatabaseService(workdir / "pybirch.db") as db:
        sample = db.get_sample_by_id("SAMPLE-001")
        assert sample is not None
        (scan,) = db.get_scans_for_sample(sample.id)
        assert scan.status == "completed"
        assert (scan.scan_name, scan.project_name) == ("IV_Curve", "MyProject")
        assert (scan.scan_type, scan.job_type) == ("1D Scan", "Transport")
        assert scan.started_at is not None
        assert scan.completed_at is not None
        # The seed's settings have no scan tree: the scan completes with no point.
        assert scan.total_points == scan.points_done == 0
        assert db.get_data_point_count(scan.id) == 0
    assert result.stdout.splitlines() == [
        f"Scan completed: {scan.scan_id}",
        "Data points recorded: 0",
    ]
    assert leftover_spool_files(workdir) == []


def test_quickstart_run_twice_reuses_the_sample(workdir: Path):
    run_example("quickstart.py", workdir)
    run_example("quickstart.py", workdir)

    with DatabaseService(workdir / "pybirch.db") as db:
        assert db.search_samples("SAMPLE-001").total == 1
        sample = db.get_sample_by_id("SAMPLE-001")
        scans = db.get_scans_for_sample(sample.id)
        assert [scan.status for scan in scans] == ["completed", "completed"]


def test_database_queue_example_stores_both_scans_and_the_queue(workdir: Path):
    result = run_example("database_queue.py", workdir)

    with DatabaseService(workdir / "pybirch_example.db") as db:
        queue = db.get_queue_with_scans("experiment_queue")
        assert queue.status == "idle"
        assert (queue.completed_scans, queue.total_scans) == (2, 2)
        assert queue.operator == "researcher"
        sample = db.get_sample_by_id("EXAMPLE-001")
        project = db.get_project_by_name("Example")
        assert (queue.sample_id, queue.project_id) == (sample.id, project.id)

        iv, lockin_map = queue.scans
        for scan in (iv, lockin_map):
            assert scan.status == "completed"
            assert scan.progress == 1.0
            assert (scan.operator, scan.sample_id, scan.project_id) == (
                "researcher",
                sample.id,
                project.id,
            )
            assert db.get_data_point_count(scan.id) == scan.points_done == scan.total_points

        sweep = db.read_scan_data(iv.id)
        assert len(sweep) == 21
        np.testing.assert_array_equal(
            sweep["Current Source current (A)"], np.linspace(-1e-3, 1e-3, 21)
        )
        # the multimeter reads the current the source drives
        np.testing.assert_allclose(sweep["current (A)"], np.linspace(-1e-3, 1e-3, 21))

        grid = db.read_scan_data(lockin_map.id).to_xarray()
        assert grid["R (V)"].shape == (6, 5)
        assert not np.isnan(grid["R (V)"].values).any()
        np.testing.assert_array_equal(grid["y (mm)"], np.linspace(20.0, 40.0, 6))
        np.testing.assert_array_equal(grid["x (mm)"], np.linspace(15.0, 35.0, 5))

        messages = [entry.message for entry in db.get_queue_logs(queue.id)]
        assert "queue started" in messages
        assert any(m.startswith("queue idle") for m in messages)
        assert sum(" completed" in m and m.startswith("scan ") for m in messages) == 2

    assert result.stdout.splitlines() == [
        "Queue experiment_queue: idle, 2/2 scans finished",
        f"  IV sweep: completed, 21 of 21 points stored, sample {sample.id}, operator researcher",
        "  Lock-in map: completed, 30 of 30 points stored, "
        f"sample {sample.id}, operator researcher",
        f"Queue log entries stored: {len(messages)}",
        "Incomplete scans after recovery: 0",
    ]
    assert leftover_spool_files(workdir) == []


def test_database_queue_example_run_again_adds_a_run_to_the_same_queue(workdir: Path):
    run_example("database_queue.py", workdir)
    run_example("database_queue.py", workdir)

    with DatabaseService(workdir / "pybirch_example.db") as db:
        queue = db.get_queue_with_scans("experiment_queue")
        assert [scan.status for scan in queue.scans] == ["completed"] * 4
        assert db.search_samples("EXAMPLE-001").total == 1


def test_auto_discovery_sets_up_every_instrument_bound_to_this_computer(workdir: Path):
    result = run_example("auto_discovery.py", workdir)

    # One line per instrument: its name in 16 columns, its driver, its settings.
    lines = {line[:16].strip(): line for line in result.stdout.splitlines()}
    assert set(lines) == {"Current Source", "Lock-in", "Multimeter", "Stage X", "Stage Y"}
    assert "FakeLockin" in lines["Lock-in"]
    assert "'axis': 'y'" in lines["Stage Y"]  # the settings it last ran with
    assert "'include_current': True" in lines["Multimeter"]
