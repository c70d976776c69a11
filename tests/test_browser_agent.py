"""A lab computer's agent driven from chromium: build on it, watch the line grow, reconnect.

The server and the agent are separate processes on one database. The scan page's line
grows from the pushed rows; after its socket drops and comes back it asks for the rows it
missed by index, and the line ends with every point exactly once, in order.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from browser_support import (
    ARTIFACTS,
    chromium,
    confirm,
    logged_in,
    require_chromium,
    running_agent,
    running_server,
)
from lab_client import LabClient, agent_offers, register_computer, wait_for

PASSWORD = "agent browser password"
POINTS = 1200
#: Points of a scan that outlasts any test at 10 ms a point; such scans end by an abort.
ENDLESS = 100_000
#: Seconds to wait for anything: generous, as the suite must hold on a busy machine.
PATIENCE = 60.0
#: The same, in Playwright's milliseconds.
PATIENCE_MS = int(PATIENCE * 1000)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    require_chromium()
    server_dir, agent_dir = (Path(tmp_path_factory.mktemp(n)) for n in ("server", "agent"))
    database_url = f"sqlite:///{server_dir / 'pybirch.db'}"
    with running_server(server_dir, PASSWORD) as url:
        db, _, computer_id, token = register_computer(database_url, url, PASSWORD)
        with running_agent(agent_dir, url, token, database_url):
            wait_for(lambda: agent_offers(db, computer_id), PATIENCE, "the agent to register")
            yield {"url": url, "db": db, "computer_id": computer_id}
        db.close()


@pytest.fixture(scope="module")
def page(lab):
    with chromium() as browser:
        yield logged_in(browser, lab["url"], "admin", PASSWORD)


def build_on_the_agent(page, url: str, name: str, points: int, queue: str) -> None:
    page.goto(f"{url}/builder/")
    assert "Raman PC" in page.locator("h1").inner_text()  # the only computer with instruments
    page.fill("input[name=scan_name]", name)
    page.select_option("select[name=queue]", "new")
    page.fill("input[name=new_queue]", queue)
    page.select_option("select[name=axis1_instrument]", "Stage X")
    page.fill("input[name=axis1_start]", "0")
    page.fill("input[name=axis1_stop]", "100")
    page.fill("input[name=axis1_points]", str(points))
    page.check("input[name=measure][value='Lock-in']")
    stage = page.locator("fieldset[data-instrument='Stage X']")
    stage.locator("button[data-mode=json]").click()
    page.fill("textarea[name='settings_Stage X']", '{"delay": 0.01}')
    page.click("button:has-text('Add and start')")
    page.wait_for_url("**/scans/*")


def stored_points(page, url: str, scan_id: str) -> int:
    """How many points of a scan the server has stored, asked with the page's session."""
    return page.request.get(f"{url}/api/v1/scans/{scan_id}").json()["points_done"]


def test_the_line_grows_and_a_reconnected_page_misses_no_row(page, lab):
    build_on_the_agent(page, lab["url"], "Agent line", POINTS, "agent-line")
    page.wait_for_function(
        "() => window.pybirchLive && window.pybirchLive.state().next > 50", timeout=PATIENCE_MS
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "agent-live-line.png"), full_page=True)

    scan_id = page.url.rsplit("/", 1)[-1]
    page.evaluate("window.pybirchLive.socket.disconnect()")
    offline_at = page.evaluate("window.pybirchLive.state().next")
    wait_for(
        lambda: stored_points(page, lab["url"], scan_id) > offline_at,
        PATIENCE,
        "rows the offline page misses",
    )
    page.evaluate("window.pybirchLive.socket.connect()")
    page.locator("#scan-status", has_text="completed").wait_for(timeout=PATIENCE_MS)
    page.wait_for_function(
        f"() => window.pybirchLive.state().next === {POINTS}", timeout=PATIENCE_MS
    )

    state = page.evaluate("window.pybirchLive.state()")
    assert state["on"]
    assert np.allclose(state["x"], np.linspace(0, 100, POINTS))  # every row once, in order

    with page.expect_download() as download:  # the data of the scan just built, as CSV
        page.click("td.downloads >> text=CSV")
    with open(download.value.path(), encoding="utf-8") as saved:
        lines = [line for line in saved.read().splitlines() if not line.startswith("#")]
    table = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [float(row["X (V)"]) for row in table] == pytest.approx(state["y"], rel=1e-12)


def test_a_queue_on_the_agent_is_paused_resumed_and_aborted_from_its_page(page, lab):
    build_on_the_agent(page, lab["url"], "Agent long", ENDLESS, "agent-long")
    page.locator("#scan-status", has_text="running").wait_for(timeout=PATIENCE_MS)
    page.click("nav >> text=Queues")
    page.click("table >> text=agent-long")
    page.click("td.controls button:has-text('Pause')")
    page.locator("tr[data-scan-id] .status", has_text="paused").wait_for(timeout=PATIENCE_MS)
    page.click("td.controls button:has-text('Resume')")
    page.locator("tr[data-scan-id] .status", has_text="running").wait_for(timeout=PATIENCE_MS)
    page.click("div.page-head button:has-text('Abort')")
    confirm(page)
    page.locator("tr[data-scan-id] .status", has_text="aborted").wait_for(timeout=PATIENCE_MS)
    page.screenshot(path=str(ARTIFACTS / "agent-queue-aborted.png"), full_page=True)


def test_the_agents_instruments_are_listed_as_connected(page, lab):
    page.goto(f"{lab['url']}/instruments/")
    row = page.locator("tr[data-instrument='Stage X']")
    # busy while the scans before this test ran; connected (live, no reload) once they ended
    row.locator(".status", has_text=re.compile("^connected$")).wait_for(timeout=PATIENCE_MS)
    page.goto(f"{lab['url']}/computers/")
    assert "Raman PC" in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "computers.png"), full_page=True)


def test_the_dashboard_follows_a_scan_without_a_reload(page, lab):
    page.goto(f"{lab['url']}/")
    page.evaluate("window.notReloaded = true")
    client = LabClient(lab["url"], "admin", PASSWORD)
    lab_id = client.http.get(f"{lab['url']}/api/v1/labs", timeout=PATIENCE).json()["items"][0]["id"]
    scan_id = client.build(
        lab_id, "Dashboard watch", ENDLESS, 0.01, "agent-dashboard", True, str(lab["computer_id"])
    )
    running_now = page.locator("#dashboard-live section", has_text="Running now")
    row = running_now.locator(f"tr[data-scan-id='{scan_id}']")
    row.locator(".status", has_text="running").wait_for(timeout=PATIENCE_MS)
    first = float(row.locator("progress").get_attribute("value") or 0)
    page.wait_for_function(
        f"() => document.querySelector(\"tr[data-scan-id='{scan_id}'] progress\").value > {first}",
        timeout=PATIENCE_MS,
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)
    client.post(f"/api/queue/{client.scan(scan_id)['queue_id']}/abort")
    row.wait_for(state="detached", timeout=PATIENCE_MS)  # no longer running: the lists were renewed
    assert page.evaluate("window.notReloaded")
    client.close()
