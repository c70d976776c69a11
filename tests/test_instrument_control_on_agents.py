"""Manual control of a lab computer's instrument, through the server and the computer's agent.

The server (``pybirch serve``) and the agent (``pybirch agent --simulated``) are two
processes sharing one database, as in a lab. A member moves the agent's stage, reads its
lock-in once and applies settings from the instrument's page and the API; the agent
carries them out on its live instruments, refuses while a scan holds one, and every
action is logged with who asked.
"""

from __future__ import annotations

import re
from pathlib import Path

from browser_support import free_port, running_agent, running_server
from lab_client import LabClient, agent_info, between, register_computer, wait_for

PASSWORD = "instrument control password"
#: Seconds to wait for anything: generous, as the suite must hold on a busy machine.
PATIENCE = 90.0
#: Points of a scan that outlasts the test at 10 ms a point; it ends by an abort.
ENDLESS = 100_000


def offered(db, computer_id: int) -> dict[str, dict]:
    """The instruments the online agent reports, by name."""
    return {each["name"]: each for each in agent_info(db, computer_id).get("instruments", [])}


def api(client: LabClient, path: str, body: dict | None = None):
    """A browser's JSON post (session cookie and CSRF header)."""
    return client.http.post(
        f"{client.url}{path}",
        json=body or {},
        headers={"X-CSRFToken": client.csrf},
        timeout=PATIENCE,
    )


def test_a_member_moves_reads_and_sets_up_an_agents_instruments(tmp_path: Path) -> None:
    for name in ("server", "agent"):
        (tmp_path / name).mkdir()
    url_of_db = f"sqlite:///{tmp_path / 'server' / 'pybirch.db'}"
    with running_server(
        tmp_path / "server", PASSWORD, port=free_port(), database_url=url_of_db
    ) as url:
        db, lab_id, computer_id, token = register_computer(url_of_db, url, PASSWORD)
        client = LabClient(url, "admin", PASSWORD)
        with running_agent(tmp_path / "agent", url, token, url_of_db):
            wait_for(
                lambda: {"Stage X", "Lock-in"} <= set(offered(db, computer_id)),
                PATIENCE,
                "the agent to offer its bound instruments",
            )
            stage = db.get_instrument_by_name("Stage X", lab_id, computer_id=computer_id)
            lockin = db.get_instrument_by_name("Lock-in", lab_id, computer_id=computer_id)

            page = client.http.get(f"{url}/instruments/{stage.id}", timeout=PATIENCE).text
            assert "On Raman PC" in page
            assert "installed FakeStage" in page.split('class="loaded-driver">', 1)[1]
            assert ">Move<" in page
            assert "0 to 100 mm" in page

            # the page's form: the stage moves on the lab computer, which says where it is
            csrf = between(page, 'name="csrf_token" type="hidden" value="', '"')
            moved = client.http.post(
                f"{url}/instruments/{stage.id}/move",
                data={"csrf_token": csrf, "computer_id": str(computer_id), "position": "25"},
                timeout=PATIENCE,
            )
            assert '<strong class="moved-to">25 mm</strong>' in moved.text

            read = api(client, f"/api/instruments/{lockin.id}/measure")
            assert read.status_code == 200, read.text
            reading = read.json()["result"]
            assert reading["columns"] == ["X", "Y", "R", "Theta"]
            assert reading["units"] == ["V", "V", "V", "deg"]
            assert len(reading["rows"]) == 1

            outside = api(client, f"/api/instruments/{stage.id}/move", {"position": 500})
            assert outside.status_code == 409
            assert outside.json()["outcome"] == "refused"
            assert "outside the limits [0, 100]" in outside.json()["message"]

            applied = api(
                client, f"/api/instruments/{stage.id}/settings", {"settings": {"speed": 40.0}}
            )
            assert applied.status_code == 200, applied.text
            assert applied.json()["result"]["settings"]["speed"] == 40.0
            (binding,) = db.get_instrument_bindings(stage.id, lab_id=lab_id)
            assert binding["last_settings"]["speed"] == 40.0  # written back by the agent
            wait_for(
                lambda: offered(db, computer_id)["Stage X"]["settings"]["speed"] == 40.0,
                PATIENCE,
                "the agent to report the stage's new settings",
            )
            form = client.http.get(f"{url}/instruments/{stage.id}", timeout=PATIENCE).text
            assert re.search(r'name="setting-speed" value="40.0"', form)

            # a scan holding the stage: manual control is refused until it ends
            scan_id = client.build(
                lab_id, "holds the stage", ENDLESS, 0.01, "agent queue", True, str(computer_id)
            )
            wait_for(
                lambda: client.scan(scan_id)["status"] == "running", PATIENCE, "the scan to run"
            )
            held = api(client, f"/api/instruments/{stage.id}/move", {"position": 5})
            assert held.status_code == 409
            assert "a scan that has not ended uses Stage X" in held.json()["message"]
            client.post(f"/api/scan/{scan_id}/abort")
            wait_for(lambda: client.scan(scan_id)["status"] == "aborted", PATIENCE, "the abort")
            again = api(client, f"/api/instruments/{stage.id}/move", {"position": 5})
            assert again.status_code == 200, again.text
            assert again.json()["result"] == {"position": 5.0, "units": "mm"}

            actions = db.get_instrument_actions(stage.id)
            assert [(a.action, a.outcome) for a in actions] == [
                ("move", "done"),
                ("move", "refused"),
                ("apply_settings", "done"),
                ("move", "refused"),
                ("move", "done"),
            ]
            assert {db.get_user(a.created_by_id).username for a in actions} == {"admin"}
            assert {a.computer_id for a in actions} == {computer_id}

        # the agent is gone: the page says so, and control is refused, not an error
        wait_for(lambda: not offered(db, computer_id), PATIENCE, "the agent to leave")
        gone = api(client, f"/api/instruments/{stage.id}/move", {"position": 6})
        assert gone.status_code == 409
        assert "Raman PC is not connected" in gone.json()["message"]
        client.close()
