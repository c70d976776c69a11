"""A lab computer with only its token: a million points through the server, across its restart.

``pybirch serve`` (gunicorn, as a lab runs it) on the lab's database and ``pybirch agent
--server URL --token TOKEN --simulated`` with no ``DATABASE_URL``: the agent reaches the
database only through the server's gateway. A 1000 x 1000 map (500 x 500 on SQLite) built
in the browser's builder runs on it; the server process is stopped and a new one started on
the same port while the map is measured. The database then holds every row once, in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from browser_support import free_port, running_agent, running_server
from lab_client import LabClient, agent_offers, build_map, register_computer, wait_for
from pybirch.database import DatabaseService
from pybirch.database.models import MeasurementChunk, MeasurementObject

PASSWORD = "token-only agent password"
PATIENCE = 120.0
#: Seconds the million points may take on a busy two-core machine, the restart included.
SCAN_PATIENCE = 1200.0
#: The map's side on each database: a million points where labs run token-only agents
#: (PostgreSQL); a quarter of that on SQLite, which takes the same path.
SIDES = {"postgresql": 1000, "sqlite": 500}


def chunks_of(db: DatabaseService, scan_record_id: int) -> list[tuple[int, int, int, int]]:
    """(first row, rows, first point, points) of every stored chunk of the scan, in row order."""
    with db.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    MeasurementChunk.first_row,
                    MeasurementChunk.row_count,
                    MeasurementChunk.first_point,
                    MeasurementChunk.point_count,
                )
                .join(MeasurementObject)
                .where(MeasurementObject.scan_id == scan_record_id)
                .order_by(MeasurementChunk.first_row)
            )
        ]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server' / 'pybirch.db'}"
    url = request.getfixturevalue("postgres_url")
    DatabaseService(url, auto_upgrade=True).close()  # `pybirch db upgrade`, as a lab does
    return url


@pytest.mark.timeout(2 * SCAN_PATIENCE)  # every wait inside is bounded by its own patience
def test_a_million_points_from_a_token_only_agent_survive_a_server_restart(
    tmp_path: Path, database_url: str
) -> None:
    server_dir, agent_dir = tmp_path / "server", tmp_path / "agent"
    server_dir.mkdir(exist_ok=True)
    agent_dir.mkdir()
    port = free_port()
    side = SIDES["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    total = side * side
    with ExitStack() as first_server:
        url = first_server.enter_context(
            running_server(server_dir, PASSWORD, port=port, database_url=database_url)
        )
        db, lab_id, computer_id, token = register_computer(database_url, url, PASSWORD)
        agent = running_agent(agent_dir, url, token, None)  # no DATABASE_URL: its token only
        with agent:
            wait_for(
                lambda: {"Stage X", "Stage Y", "Lock-in"} <= agent_offers(db, computer_id),
                PATIENCE,
                "the agent to register its instruments",
            )
            client = LabClient(url, "admin", PASSWORD)
            scan_id = build_map(
                client, lab_id, computer_id, side, f"{total:,} points through the server"
            )
            client.close()
            wait_for(
                lambda: db.get_scan(scan_id, with_settings=False).points_done >= total // 10,
                SCAN_PATIENCE,
                "the first tenth of the points in the database",
            )
            first_server.close()  # the server process stops while the map is measured
            during = db.get_scan(scan_id, with_settings=False).points_done
            with running_server(server_dir, PASSWORD, port=port, database_url=database_url):
                wait_for(
                    lambda: db.get_scan(scan_id, with_settings=False).status == "completed",
                    SCAN_PATIENCE,
                    "the map to be measured and stored",
                )
    record = db.get_scan(scan_id)
    assert during < total, "the server restarted before the scan ended"
    assert record.points_done == total
    assert record.lab_id == lab_id
    chunks = chunks_of(db, record.id)
    firsts = np.array([c[0] for c in chunks])
    rows = np.array([c[1] for c in chunks])
    assert len(np.unique(firsts)) == len(firsts)
    assert firsts[0] == 0
    assert np.array_equal(firsts[1:], (firsts + rows)[:-1]), "a gap or a row stored twice"
    assert int(rows.sum()) == total
    data = db.read_scan_data(record.id)
    assert np.array_equal(data.point_index, np.arange(total))
    _, per_line = np.unique(data.columns["y (mm)"], return_counts=True)
    assert per_line.tolist() == [side] * side, "every line of the map once, whole"
    # The live link dropped once, when the server stopped: a full-speed map's rows go in
    # messages the server accepts (a bigger one closes the connection).
    log = (agent_dir / "agent.log").read_text()
    while_measuring = log.split("queue idle")[0]
    assert while_measuring.count("lost the connection") == 1, while_measuring[-3000:]
    db.close()


def test_a_token_only_agent_with_an_unknown_token_stops_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "agent").mkdir()
    with running_server(tmp_path, PASSWORD) as url:
        env = {**os.environ, "PYBIRCH_DATA_DIR": str(tmp_path / "agent")}
        env.pop("DATABASE_URL", None)
        finished = subprocess.run(
            [sys.executable, "-m", "pybirch", "agent", "--server", url, "--token", "pbc_made-up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
    assert finished.returncode == 1
    assert "this computer's token only" in finished.stdout  # it chose to store through the server
    assert "does not know this token" in finished.stderr
