"""A server and a lab computer's agent as two processes: build, run and control a queue.

The server (``pybirch serve``) and the agent (``pybirch agent --simulated``) share one
database, as a lab's do; the agent keeps its own spool. Everything goes through the
server: the builder form, the REST control routes and the live events.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser_support import free_port, running_agent, running_server
from lab_client import LabClient, agent_info, agent_offers, register_computer, wait_for
from pybirch.agent import uplink as uplink_module
from pybirch.agent.uplink import Uplink
from pybirch.database import DatabaseService
from pybirch.realtime.agent_protocol import REGISTER

PASSWORD = "agent test password"
#: Seconds to wait for anything: generous, as the suite must hold on a busy machine.
PATIENCE = 60.0
#: Points of a scan that outlasts any test at 10 ms a point; such scans end by an abort.
ENDLESS = 100_000


@dataclass
class Lab:
    """Where the server and the agent keep their files, and the database they share."""

    server_dir: Path
    agent_dir: Path
    port: int
    database_url: str

    def server(self):
        return running_server(
            self.server_dir, PASSWORD, port=self.port, database_url=self.database_url
        )


@pytest.fixture
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Lab:
    """A SQLite file by default; ``postgresql`` (indirect parameter) for a lab's database."""
    (tmp_path / "server").mkdir()
    (tmp_path / "agent").mkdir()
    url = f"sqlite:///{tmp_path / 'server' / 'pybirch.db'}"
    if getattr(request, "param", "sqlite") == "postgresql":
        url = request.getfixturevalue("postgres_url")
        DatabaseService(url, auto_upgrade=True).close()  # `pybirch db upgrade`, as a lab does
    return Lab(tmp_path / "server", tmp_path / "agent", free_port(), url)


def contiguous(rows: list[tuple[int, int]]) -> bool:
    """Whether live chunks (first_row, count), placed by their index, hold every row once.

    A browser places rows by index: the server relays an agent's events each in its own
    thread, and the client handles each in its own thread, so they may arrive swapped.
    """
    ordered = sorted(rows)
    return all(a + n == b for (a, n), (b, _) in itertools.pairwise(ordered))


def _stored_rows(client: LabClient, scan_id: str) -> int:
    measurements = client.scan(scan_id)["measurements"]
    return measurements[0]["rows"] if measurements else 0


@pytest.mark.parametrize("lab", ["sqlite", "postgresql"], indirect=True)
def test_a_queue_on_an_agent_is_built_run_and_controlled_through_the_server(lab: Lab) -> None:
    with lab.server() as url:
        db, lab_id, computer_id, token = register_computer(lab.database_url, url, PASSWORD)
        client = LabClient(url, "admin", PASSWORD)
        with running_agent(lab.agent_dir, url, token, lab.database_url):
            wait_for(
                lambda: (
                    {"Stage X", "Lock-in"}
                    <= {i["name"] for i in agent_info(db, computer_id).get("instruments", [])}
                ),
                PATIENCE,
                "the agent to register with its bound instruments",
            )

            builder = client.http.get(f"{url}/builder/", params={"lab": lab_id}, timeout=PATIENCE)
            assert "Raman PC" in builder.text
            assert "Stage X" in builder.text

            scan_id = client.build(
                lab_id, "on the agent", ENDLESS, 0.01, "agent queue", False, str(computer_id)
            )
            record = client.scan(scan_id)
            assert record["status"] == "queued"
            queue_id = record["queue_id"]
            assert db.get_queue(queue_id).extra_data["computer_id"] == computer_id
            queue_page = client.http.get(f"{url}/queues/{queue_id}", timeout=PATIENCE).text
            assert "<dd>Raman PC</dd>" in queue_page  # the name a lab knows it by
            client.join("scan", scan_id)

            client.post(f"/api/queue/{queue_id}/start")
            wait_for(lambda: client.last_status(scan_id) == "running", PATIENCE, "the scan to run")
            wait_for(lambda: client.rows(scan_id), PATIENCE, "live rows from the agent")

            assert client.post(f"/api/scan/{scan_id}/pause").json()["scan_id"] == scan_id
            wait_for(lambda: client.last_status(scan_id) == "paused", PATIENCE, "the pause")
            paused_at = client.scan(scan_id)["points_done"]
            client.post(f"/api/scan/{scan_id}/resume")
            wait_for(lambda: client.last_status(scan_id) == "running", PATIENCE, "the resume")
            wait_for(
                lambda: client.scan(scan_id)["points_done"] > paused_at, PATIENCE, "more points"
            )

            assert client.post(f"/api/queue/{queue_id}/pause").json()["status"] == "paused"
            wait_for(lambda: client.last_status(scan_id) == "paused", PATIENCE, "the queue's pause")
            refused = client.post(f"/api/queue/{queue_id}/start", expect_ok=False)
            assert refused.status_code == 409
            assert "paused" in refused.json()["error"]["message"]  # the agent's own words
            client.post(f"/api/queue/{queue_id}/resume")
            wait_for(
                lambda: client.last_status(scan_id) == "running", PATIENCE, "the queue's resume"
            )

            client.post(f"/api/queue/{queue_id}/abort")
            wait_for(lambda: client.last_status(scan_id) == "aborted", PATIENCE, "the abort")
            wait_for(lambda: client.scan(scan_id)["status"] == "aborted", PATIENCE, "the record")

            rows = client.rows(scan_id)
            assert min(rows)[0] == 0
            assert contiguous(rows)
            assert _stored_rows(client, scan_id) == sum(n for _, n in rows)

        wait_for(
            lambda: not agent_info(db, computer_id), PATIENCE, "the agent to be marked offline"
        )
        refused = client.post(f"/api/queue/{queue_id}/start", expect_ok=False)
        assert refused.status_code == 409
        assert "not connected" in refused.json()["error"]["message"]
        client.close()
        db.close()


def test_an_agent_measures_on_while_the_server_is_away(lab: Lab) -> None:
    with ExitStack() as agent_and_database:
        first_server = ExitStack()
        url = first_server.enter_context(lab.server())
        db, lab_id, computer_id, token = register_computer(lab.database_url, url, PASSWORD)
        agent_and_database.callback(db.close)
        agent_and_database.enter_context(running_agent(lab.agent_dir, url, token, lab.database_url))
        wait_for(lambda: agent_offers(db, computer_id), PATIENCE, "the agent to register")
        first_sid = agent_info(db, computer_id)["sid"]
        client = LabClient(url, "admin", PASSWORD)
        scan_id = client.build(
            lab_id, "outage", ENDLESS, 0.01, "outage queue", True, str(computer_id)
        )
        wait_for(lambda: client.scan(scan_id)["points_done"] > 20, PATIENCE, "the first points")
        client.close()

        first_server.close()
        before = db.get_scan(scan_id).points_done
        wait_for(
            lambda: db.get_scan(scan_id).points_done > before,
            PATIENCE,
            "points measured and stored while the server is away",
        )

        with lab.server() as url:  # the same address: the agent finds it again
            wait_for(
                lambda: agent_info(db, computer_id).get("sid") not in (None, first_sid),
                PATIENCE,
                "the agent to reconnect",
            )
            client = LabClient(url, "admin", PASSWORD)
            client.join("scan", scan_id)
            client.post(f"/api/scan/{scan_id}/pause")
            wait_for(lambda: client.last_status(scan_id) == "paused", PATIENCE, "the pause")
            paused_at = client.scan(scan_id)["points_done"]
            client.post(f"/api/scan/{scan_id}/resume")
            wait_for(lambda: client.scan(scan_id)["points_done"] > paused_at, PATIENCE, "more")
            client.post(f"/api/scan/{scan_id}/abort")
            wait_for(lambda: client.last_status(scan_id) == "aborted", PATIENCE, "the abort")
            wait_for(lambda: client.scan(scan_id)["status"] == "aborted", PATIENCE, "the record")
            measured = client.scan(scan_id)["points_done"]  # the engine's count
            assert measured > paused_at
            assert _stored_rows(client, scan_id) == measured  # not one point lost
            rows = client.rows(scan_id)
            assert rows
            assert contiguous(rows)
            client.close()


def test_an_agent_with_an_unknown_token_stops_and_says_why(lab: Lab) -> None:
    with lab.server() as url:
        env = {**os.environ, "PYBIRCH_DATA_DIR": str(lab.agent_dir)}
        env["DATABASE_URL"] = lab.database_url
        command = [sys.executable, "-m", "pybirch", "agent", "--server", url]
        finished = subprocess.run(
            [*command, "--token", "pbc_made-up", "--simulated"],
            env=env,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
    assert finished.returncode == 1
    assert "does not know this token" in finished.stderr


def test_a_failed_registration_is_tried_again(lab: Lab, monkeypatch) -> None:
    monkeypatch.setattr(uplink_module, "RETRY_DELAYS", (0.2,))
    with lab.server() as url:
        db, _, computer_id, token = register_computer(lab.database_url, url, PASSWORD)
        attempts: list[str] = []

        def register() -> None:
            attempts.append(uplink.server_url)
            if len(attempts) == 1:
                raise RuntimeError("the first registration fails")
            reply = uplink.request(REGISTER, {"computer": {}, "instruments": [], "queues": []})
            assert reply["ok"]

        uplink = Uplink(url, token, on_connected=register, handlers={})
        uplink.start()
        assert uplink.connected.wait(PATIENCE)
        assert len(attempts) == 2
        wait_for(lambda: agent_info(db, computer_id), PATIENCE, "the registration to be recorded")
        uplink.close()
        db.close()


def test_a_restarted_agent_takes_back_the_queue_its_killed_run_left(lab: Lab) -> None:
    with lab.server() as url:
        db, lab_id, computer_id, token = register_computer(lab.database_url, url, PASSWORD)
        client = LabClient(url, "admin", PASSWORD)
        with running_agent(lab.agent_dir, url, token, lab.database_url) as first:
            wait_for(lambda: agent_offers(db, computer_id), PATIENCE, "the agent to register")
            scan_id = client.build(
                lab_id, "cut", ENDLESS, 0.01, "cut queue", True, str(computer_id)
            )
            wait_for(lambda: client.scan(scan_id)["points_done"] > 30, PATIENCE, "the first points")
            first.kill()  # no goodbye: the queue stays "running" in the database
            first.wait(PATIENCE)
        queue_id = client.scan(scan_id)["queue_id"]
        assert db.get_queue(queue_id).status == "running"

        with running_agent(lab.agent_dir, url, token, lab.database_url):
            wait_for(
                lambda: (
                    [q["id"] for q in agent_info(db, computer_id).get("queues", [])] == [queue_id]
                ),
                PATIENCE,
                "the new agent to take the queue back",
            )
            scan = client.scan(scan_id)
            assert scan["status"] == "interrupted"
            assert scan["measurements"][0]["rows"] >= 30  # what the killed run spooled
            logs = db.get_queue_logs(queue_id, limit=50)
            assert any("taken back" in entry.message for entry in logs)
            # The queue is this agent's again: a new scan joins it and runs.
            again = client.build(lab_id, "again", 20, 0.0, "cut queue", True, str(computer_id))
            wait_for(lambda: client.scan(again)["status"] == "completed", PATIENCE, "the new scan")
        client.close()
        db.close()
