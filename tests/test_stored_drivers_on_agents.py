"""The seed's example, end to end: MyLockIn posted to the API as the seed writes it, approved by
a second admin, run by a lab computer's agent on a pyvisa-sim SR830, its data in a scan; then
edited in the browser and approved there by the second admin, it reaches the running agent
without a restart and takes the next scan, whose record names the new version.

Every part is its own process, as in a lab: ``pybirch serve`` on PostgreSQL and Redis, and a
``pybirch agent`` for the Transport PC.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import (
    ARTIFACTS,
    chromium,
    logged_in,
    require_chromium,
    running_agent,
    running_server,
)
from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE
from lab_client import LabClient, between, register_computer, sweep, wait_for
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.instruments.simulated.visa_sim import (
    KEITHLEY2400_RESOURCE,
    SIM_BACKEND,
    SR830_RESOURCE,
)
from web_support import PASSWORD as REVIEWER_PASSWORD
from web_support import add_member

PASSWORD = "stored drivers admin password"
PATIENCE = 90.0
TRANSPORT = {
    "PYBIRCH_COMPUTER_NAME": "transport-pc",
    "PYBIRCH_COMPUTER_ID": "machine-transport-drivers",
    "PYBIRCH_VISA_BACKEND": SIM_BACKEND,
}
API = "/api/instrument-definitions"
#: Version 2: X doubled, so the data says which version took it.
DOUBLED_X = SEED_LOCKIN_CODE.replace(
    'x = float(self.instrument.query("OUTP? 1"))',
    'x = 2 * float(self.instrument.query("OUTP? 1"))',
)


def bind(db: DatabaseService, lab_id: int, computer_id: int, name: str, **described) -> int:
    """An instrument of the lab bound to the computer at its address; its id."""
    record = db.register_instrument_on_computer({"name": name, **described}, lab_id, computer_id)
    db.bind_instrument_to_computer(
        record.id, computer_id=computer_id, adapter=described.get("adapter")
    )
    return record.id


def api(client: LabClient, method: str, path: str, **json) -> dict:
    """A JSON call to the definitions API, with the session's CSRF token."""
    response = client.http.request(
        method,
        f"{client.url}{API}{path}",
        json=json or None,
        headers={"X-CSRFToken": client.csrf},
        timeout=PATIENCE,
    )
    assert response.status_code in (200, 201), response.text[:3000]
    return response.json()


def loaded_version(db: DatabaseService, computer_id: int, name: str) -> int | None:
    """The stored definition's version the computer last loaded for an instrument."""
    for binding in db.get_computer_bindings(computer_id=computer_id):
        if binding["instrument"]["name"] == name:
            return (binding["loaded_driver"] or {}).get("version")
    return None


def edit_in_the_browser(page, url: str, definition: int) -> None:
    """The author replaces the code in the editor with version 2's and saves it."""
    page.goto(f"{url}/definitions/{definition}/edit")
    page.locator(".cm-editor").wait_for()
    page.click(".cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(DOUBLED_X)  # as pasted: no auto-indent
    assert page.locator("#source_code").input_value().strip() == DOUBLED_X.strip()
    page.fill("input[name=change_summary]", "X doubled, to see which version measured")
    page.locator("#validation-state.good").wait_for()
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(rf"/definitions/{definition}(\?.*)?$"))
    assert "Saved as version 2" in page.locator(".flash").inner_text()


def approve_in_the_browser(page, url: str, version: str) -> None:
    """The second admin approves the version on the approvals page."""
    page.goto(f"{url}/approvals/")
    card = page.locator("section.review", has_text=version)
    card.locator("textarea[name=comment]").fill("Checked against the SR830 manual.")
    card.locator(f"button:has-text('Approve {version}')").click()
    assert f"version {version[1:]} approved" in page.locator(".flash").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stored-driver-approved-for-agent.png"), full_page=True)


def first_x(db: DatabaseService, scan_id: str) -> float:
    record = db.get_scan(scan_id, with_settings=False)
    return float(db.read_scan_data(record.id, "Lock-in")["X (V)"][0])


def test_the_seeds_lockin_is_posted_approved_and_run_by_an_agent_then_updated_live(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    monkeypatch.setenv("REDIS_URL", redis_url.rsplit("/", 1)[0] + "/13")
    DatabaseService(postgres_url, auto_upgrade=True).close()
    for name in ("server", "transport"):
        (tmp_path / name).mkdir()
    with running_server(tmp_path / "server", PASSWORD, database_url=postgres_url) as url:
        db, lab_id, _, _ = register_computer(postgres_url, url, PASSWORD)
        transport, token = db.create_computer(lab_id, "Transport PC")
        add_member(db, lab_id, "reviewer", Role.ADMIN)
        bind(
            db,
            lab_id,
            transport.id,
            "Source-meter",
            instrument_type="movement",
            pybirch_class="pybirch.instruments.drivers.keithley2400:Keithley2400CurrentSource",
            adapter=KEITHLEY2400_RESOURCE,
        )
        lockin = bind(
            db,
            lab_id,
            transport.id,
            "Lock-in",
            instrument_type="measurement",
            adapter=SR830_RESOURCE,
        )
        author = LabClient(url, "admin", PASSWORD)
        reviewer = LabClient(url, "reviewer", REVIEWER_PASSWORD)

        # Posted as the seed writes it; it validates and waits for review.
        created = api(author, "POST", f"?lab={lab_id}", **SEED_LOCKIN)
        definition = created["id"]
        assert created["versions"][-1]["status"] == "pending"

        with running_agent(
            tmp_path / "transport", url, token, postgres_url, simulated=False, env=TRANSPORT
        ) as agent:
            # A second admin approves it; the author could not have.
            refused = author.http.post(
                f"{url}{API}/{definition}/versions/1/approve",
                json={"comment": "mine"},
                headers={"X-CSRFToken": author.csrf},
                timeout=PATIENCE,
            )
            assert refused.status_code == 403
            api(reviewer, "POST", f"/{definition}/versions/1/approve", comment="Checked")

            # A lab admin has the lock-in run it; the agent loads it (sandboxed).
            page = f"{url}/computers/{transport.id}/instruments"
            csrf = between(
                author.http.get(page, timeout=PATIENCE).text, 'name="csrf_token" value="', '"'
            )
            chosen = author.http.post(
                f"{page}/{lockin}/driver",
                data={"csrf_token": csrf, "definition_id": str(definition)},
                timeout=PATIENCE,
            )
            assert "Lock-in is bound to" in chosen.text, chosen.text[:3000]
            wait_for(
                lambda: loaded_version(db, transport.id, "Lock-in") == 1,
                PATIENCE,
                "the agent to load MyLockIn version 1",
            )

            # Its data lands in a scan whose record names the version.
            first = sweep(author, lab_id, transport.id, "with v1", 5, "transport queue")
            wait_for(lambda: author.scan(first)["status"] == "completed", PATIENCE, "the sweep")
            driver = author.scan(first)["driver_versions"]["Lock-in"]
            assert (driver["kind"], driver["name"], driver["version"]) == (
                "definition",
                "MyLockIn",
                1,
            )
            assert first_x(db, first) == pytest.approx(3e-4)

            # Edited in the browser and approved there while the agent runs.
            with chromium() as browser:
                edit_in_the_browser(logged_in(browser, url, "admin", PASSWORD), url, definition)
                approve_in_the_browser(
                    logged_in(browser, url, "reviewer", REVIEWER_PASSWORD), url, "v2"
                )
            wait_for(
                lambda: loaded_version(db, transport.id, "Lock-in") == 2,
                PATIENCE,
                "the running agent to load version 2",
            )
            with chromium() as browser:
                page = logged_in(browser, url, "admin", PASSWORD)
                page.goto(f"{url}/computers/{transport.id}/instruments")
                row = page.locator("tr", has_text="Lock-in")
                assert "stored MyLockIn v2" in row.inner_text()
                page.screenshot(
                    path=str(ARTIFACTS / "stored-driver-on-lab-computer.png"), full_page=True
                )
            second = sweep(author, lab_id, transport.id, "with v2", 5, "transport queue")
            wait_for(lambda: author.scan(second)["status"] == "completed", PATIENCE, "sweep 2")
            assert author.scan(second)["driver_versions"]["Lock-in"]["version"] == 2
            assert first_x(db, second) == pytest.approx(6e-4)
            assert agent.poll() is None  # never restarted
        author.close()
        reviewer.close()
        db.close()
