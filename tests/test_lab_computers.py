"""A lab: a server on PostgreSQL and Redis, and two lab computers, each with its own instruments.

Every part is its own process, as in a lab: ``pybirch serve`` and two ``pybirch agent`` s
with different computer identities. The Raman PC offers the demo's simulated instruments;
the Transport PC finds its instruments over VISA (pyvisa-sim): a lock-in bound to it on an
earlier day, and a source-meter the browser finds and binds. Each computer loads only its
own, scans run where they are built, and restarting either agent loses nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import running_agent, running_server
from lab_client import (
    LabClient,
    agent_info,
    between,
    register_computer,
    sweep,
    wait_for,
)
from pybirch.database import DatabaseService
from pybirch.instruments.simulated.visa_sim import (
    KEITHLEY2400_RESOURCE,
    SIM_BACKEND,
    SR830_RESOURCE,
)

PASSWORD = "lab computers admin password"
#: Seconds to wait for anything: generous, as the suite must hold on a busy machine.
PATIENCE = 90.0
RAMAN = {"PYBIRCH_COMPUTER_NAME": "raman-pc", "PYBIRCH_COMPUTER_ID": "machine-raman"}
TRANSPORT = {
    "PYBIRCH_COMPUTER_NAME": "transport-pc",
    "PYBIRCH_COMPUTER_ID": "machine-transport",
    "PYBIRCH_VISA_BACKEND": SIM_BACKEND,
}
DEMO_INSTRUMENTS = {"Stage X", "Stage Y", "Lock-in", "Current Source", "Multimeter"}


def offered(db: DatabaseService, computer_id: int) -> dict[str, dict]:
    """The instruments an online agent offers, by name."""
    return {each["name"]: each for each in agent_info(db, computer_id).get("instruments", [])}


def status_on(db: DatabaseService, computer_id: int, name: str) -> str:
    """The recorded status of the instrument called ``name`` bound to a computer."""
    (record,) = [
        i for i in db.get_instruments_for_computer(computer_id=computer_id) if i.name == name
    ]
    return record.status


def stored_rows(client: LabClient, scan_id: str) -> int:
    measurements = client.scan(scan_id)["measurements"]
    return measurements[0]["rows"] if measurements else 0


def test_each_lab_computer_finds_binds_and_runs_its_own_instruments(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Redis database of its own: the other Redis tests may run beside this one.
    monkeypatch.setenv("REDIS_URL", redis_url.rsplit("/", 1)[0] + "/14")
    DatabaseService(postgres_url, auto_upgrade=True).close()  # `pybirch db upgrade`
    for name in ("server", "raman", "transport"):
        (tmp_path / name).mkdir()
    with running_server(tmp_path / "server", PASSWORD, database_url=postgres_url) as url:
        db, lab_id, raman_id, raman_token = register_computer(postgres_url, url, PASSWORD)
        transport, transport_token = db.create_computer(lab_id, "Transport PC")
        # The Transport PC's lock-in was bound on an earlier day and last ran at 0.3 s.
        lockin = db.register_instrument_on_computer(
            {
                "name": "Lock-in",
                "instrument_type": "measurement",
                "pybirch_class": "pybirch.instruments.drivers.sr830:SR830",
                "adapter": SR830_RESOURCE,
                "last_settings": {},
            },
            lab_id,
            transport.id,
        )
        db.bind_instrument_to_computer(
            lockin.id,
            computer_id=transport.id,
            adapter=SR830_RESOURCE,
            last_settings={"time_constant": 0.3},
        )
        client = LabClient(url, "admin", PASSWORD)

        def raman_agent():
            return running_agent(tmp_path / "raman", url, raman_token, postgres_url, env=RAMAN)

        def transport_agent():
            return running_agent(
                tmp_path / "transport",
                url,
                transport_token,
                postgres_url,
                simulated=False,
                env=TRANSPORT,
            )

        with raman_agent() as raman, transport_agent() as first_transport:
            # Each computer loads only what is bound to it, with the settings it last used.
            wait_for(lambda: set(offered(db, raman_id)) == DEMO_INSTRUMENTS, PATIENCE, "Raman")
            wait_for(lambda: set(offered(db, transport.id)) == {"Lock-in"}, PATIENCE, "Transport")
            assert offered(db, transport.id)["Lock-in"]["settings"]["time_constant"] == 0.3
            assert offered(db, transport.id)["Lock-in"]["type"] == "SR830"
            assert db.get_computer(raman_id).hostname == "raman-pc"
            assert db.get_computer(transport.id).hostname == "transport-pc"

            # The browser finds the source-meter wired to the Transport PC and binds it.
            page = f"{url}/computers/{transport.id}/instruments"
            csrf = between(
                client.http.get(page, timeout=PATIENCE).text, 'name="csrf_token" value="', '"'
            )
            found = client.http.post(f"{page}/find", data={"csrf_token": csrf}, timeout=PATIENCE)
            assert found.status_code == 200, found.text[:3000]
            row = between(found.text, f"<code>{KEITHLEY2400_RESOURCE}</code>", "</tr>")
            assert "KEITHLEY INSTRUMENTS INC." in row
            assert "<code>" + SR830_RESOURCE + "</code>" in found.text
            assert ">bound<" in between(found.text, f"<code>{SR830_RESOURCE}</code>", "</tr>")
            driver = between(row, 'name="driver" value="', '"')
            kind = between(row, 'name="kind" value="', '"')
            bound = client.http.post(
                f"{page}/bind",
                data={
                    "csrf_token": csrf,
                    "resource": KEITHLEY2400_RESOURCE,
                    "driver": driver,
                    "kind": kind,
                    "name": "Source-meter",
                },
                timeout=PATIENCE,
            )
            assert "ready in the scan builder" in bound.text, bound.text[:3000]
            wait_for(
                lambda: set(offered(db, transport.id)) == {"Lock-in", "Source-meter"},
                PATIENCE,
                "the bound source-meter to be offered",
            )
            assert set(offered(db, raman_id)) == DEMO_INSTRUMENTS  # the other is untouched

            # The builder offers each computer's instruments under its name.
            def builder_for(computer_id: int) -> str:
                return client.http.get(
                    f"{url}/builder/",
                    params={"lab": lab_id, "computer": computer_id},
                    timeout=PATIENCE,
                ).text

            assert "Source-meter" in builder_for(transport.id)
            assert "Stage X" not in builder_for(transport.id)
            assert "Stage X" in builder_for(raman_id)
            assert "Source-meter" not in builder_for(raman_id)

            # A scan built for the Transport PC runs there, on its VISA instruments.
            swept = sweep(client, lab_id, transport.id, "I-V", 5, "transport queue")
            wait_for(lambda: client.scan(swept)["status"] == "completed", PATIENCE, "the sweep")
            transport_queue = client.scan(swept)["queue_id"]
            assert db.get_queue(transport_queue).extra_data["computer_id"] == transport.id
            assert stored_rows(client, swept) == 5

            # One scan waits on the Raman PC, one runs without end on the Transport PC.
            waiting = client.build(
                lab_id, "waiting map", 20, 0.0, "raman queue", False, str(raman_id)
            )
            raman_queue = client.scan(waiting)["queue_id"]
            endless = sweep(client, lab_id, transport.id, "long sweep", 100000, "transport queue")
            assert client.scan(endless)["queue_id"] == transport_queue
            wait_for(lambda: client.scan(endless)["points_done"] > 20, PATIENCE, "first points")

            # The Raman PC is stopped with Ctrl-C: only its own instruments go offline.
            raman.terminate()
            raman.wait(PATIENCE)
            wait_for(
                lambda: status_on(db, raman_id, "Lock-in") == "offline",
                PATIENCE,
                "the Raman PC's lock-in to be offline",
            )
            # same name, other PC: not offline, but busy with the long sweep
            assert status_on(db, transport.id, "Lock-in") == "busy"
            # The Transport PC dies mid-scan, with no goodbye.
            first_transport.kill()
            first_transport.wait(PATIENCE)

        with raman_agent(), transport_agent():
            wait_for(
                lambda: (
                    {q["id"] for q in agent_info(db, transport.id).get("queues", [])}
                    == {transport_queue}
                ),
                PATIENCE,
                "the Transport PC to take its queue back",
            )
            wait_for(
                lambda: (
                    {q["id"] for q in agent_info(db, raman_id).get("queues", [])} == {raman_queue}
                ),
                PATIENCE,
                "the Raman PC to take its queue back",
            )
            wait_for(
                lambda: set(offered(db, transport.id)) == {"Lock-in", "Source-meter"},
                PATIENCE,
                "the restarted Transport PC to offer its instruments again",
            )
            cut = client.scan(endless)
            assert cut["status"] == "interrupted"
            assert stored_rows(client, endless) == cut["points_done"] > 20  # nothing lost

            # Both queues obey the browser again: the waiting map runs, a new sweep joins.
            assert client.post(f"/api/queue/{raman_queue}/start").json()["status"] == "running"

            def completed_in_raman_queue() -> list:
                scans = db.get_queue_with_scans(raman_queue, with_settings=False).scans
                return [scan for scan in scans if scan.status == "completed"]

            wait_for(completed_in_raman_queue, PATIENCE, "the waiting map to run")
            (rerun,) = completed_in_raman_queue()
            assert stored_rows(client, rerun.scan_id) == 20
            again = sweep(client, lab_id, transport.id, "after the restart", 5, "transport queue")
            wait_for(lambda: client.scan(again)["status"] == "completed", PATIENCE, "new sweep")
            assert client.scan(again)["queue_id"] == transport_queue
        client.close()
        db.close()


def test_a_restarted_server_takes_back_its_own_queues(tmp_path: Path) -> None:
    """The embedded shape: the server's own station keeps its queues across a restart."""
    with running_server(tmp_path, PASSWORD, demo=True) as url:
        client = LabClient(url, "admin", PASSWORD)
        lab_id = client.http.get(f"{url}/api/v1/labs", timeout=PATIENCE).json()["items"][0]["id"]
        waiting = client.build(lab_id, "waits for the restart", 10, 0.0, "server queue", False)
        queue_id = client.scan(waiting)["queue_id"]
        assert "/start" in client.http.get(f"{url}/queues/{queue_id}", timeout=PATIENCE).text
        client.close()

    with running_server(tmp_path, PASSWORD, demo=True) as url:
        client = LabClient(url, "admin", PASSWORD)
        page = client.http.get(f"{url}/queues/{queue_id}", timeout=PATIENCE).text
        assert "/start" in page  # still controllable: the restarted station took it back
        assert client.post(f"/api/queue/{queue_id}/start").json()["status"] == "running"
        with DatabaseService(f"sqlite:///{tmp_path / 'pybirch.db'}") as db:

            def completed() -> list:
                scans = db.get_queue_with_scans(queue_id, with_settings=False).scans
                return [scan.scan_id for scan in scans if scan.status == "completed"]

            wait_for(completed, PATIENCE, "the waiting scan to run after the restart")
            assert stored_rows(client, completed()[0]) == 10
            live = db.search_queues("demo-live", lab_id=lab_id).items
            assert len(live) == 1  # the demo's queue was taken back, not made twice
            waiting_maps = [
                s
                for s in db.get_queue_with_scans(live[0].id, with_settings=False).scans
                if s.status == "queued"
            ]
            assert len(waiting_maps) == 1
        client.close()
