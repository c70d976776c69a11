"""A real browser against a real server: log in, look around, see a 2-D map, download data.

Playwright drives Debian's chromium; screenshots of the main pages go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from database_builders import iv_settings, map_settings, spectrum_settings
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from pybirch.web.auth.passwords import hash_password
from pybirch.web.first_run import ensure_first_admin

ADMIN_PASSWORD = "browser admin password"
VIEWER_PASSWORD = "browser viewer password"


@pytest.fixture(scope="module")
def lab_data(tmp_path_factory):
    """A lab, a viewer, and a finished I-V sweep, 2-D map and line of spectra."""
    require_chromium()
    folder = tmp_path_factory.mktemp("browser-lab")
    with DatabaseService(folder / "pybirch.db") as db:
        first = ensure_first_admin(db, ADMIN_PASSWORD)
        lab = db.get_lab_by_name(first.lab_name)
        viewer = db.create_user("viewer", password_hash=hash_password(VIEWER_PASSWORD))
        db.set_membership(lab.id, viewer.id, Role.VIEWER)
        queue = DatabaseQueue("bench", db, lab_id=lab.id, operator="admin")
        iv, meter = iv_settings(points=101, scan_name="IV sweep")
        grid, _ = map_settings(np.linspace(0, 100, 21), np.linspace(0, 60, 13), "Lock-in map")
        spectra, _ = spectrum_settings(np.linspace(0, 10, 6), pixels=48)
        iv_handle = queue.enqueue(Scan(iv))
        map_handle = queue.enqueue(Scan(grid))
        spectra_handle = queue.enqueue(Scan(spectra))
        queue.start()
        assert queue.wait_for_completion(timeout=120)
        queue.close()
    ids = iv_handle.scan_id, map_handle.scan_id, meter.rows()[:, 0], spectra_handle.scan_id
    return folder, *ids


@pytest.fixture(scope="module")
def server(lab_data):
    with running_server(lab_data[0], ADMIN_PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_admin_logs_in_and_browses_the_lab(browser, server):
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    assert page.locator("h1").first.inner_text() == "My Lab"
    assert page.get_by_text("Lock-in map").first.is_visible()
    shot(page, "dashboard")
    page.click("nav >> text=Scans")
    assert page.locator("table >> text=IV sweep").is_visible()
    shot(page, "scans")
    page.click("nav >> text=Queues")
    page.click("table >> text=bench")
    # The test process ran this queue, not the server: no controls, and the page says why.
    assert page.get_by_text("Controls appear here").is_visible()
    assert page.get_by_role("link", name="Lock-in map").is_visible()
    shot(page, "queue")
    page.close()


def test_a_2d_map_is_drawn_as_a_heatmap_and_a_sweep_as_a_line(browser, server, lab_data):
    _, iv_id, map_id, _, spectra_id = lab_data
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server}/scans/{map_id}")
    heatmap = page.locator(".plot-map")
    page.wait_for_function("() => window.pybirchPlot && window.pybirchPlot.stats().draws > 0")
    assert heatmap.evaluate("div => [div.data[0].x.length, div.data[0].z.length]") == [21, 13]
    shot(page, "scan-map")
    page.goto(f"{server}/scans/{iv_id}")
    page.locator(".plot-area .plot-line .main-svg").first.wait_for()
    assert "101 points" in page.locator(".plot-note").inner_text()
    shot(page, "scan-iv")
    page.goto(f"{server}/scans/{spectra_id}")
    page.locator(".plot-area .plot-line .main-svg").first.wait_for()
    assert page.locator(".plot-note").inner_text().startswith("point 6 of 6")
    page.locator("input[name=point]").evaluate(
        "slider => { slider.value = 1; slider.dispatchEvent(new Event('change')); }"
    )
    page.locator(".plot-note", has_text="point 2 of 6").wait_for()
    assert page.locator("select[name=column]").input_value() == "intensity (counts)"
    shot(page, "scan-spectra")
    page.close()


def test_the_csv_download_holds_the_measured_values(browser, server, lab_data):
    _, iv_id, _, voltages, _ = lab_data
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server}/scans/{iv_id}")
    with page.expect_download() as download:
        page.click("td.downloads >> text=CSV")
    with open(download.value.path(), encoding="utf-8") as saved:
        text = saved.read()
    rows = [line for line in text.splitlines() if not line.startswith("#")]
    table = list(csv.DictReader(io.StringIO("\n".join(rows))))
    assert np.array_equal(np.array([float(r["voltage (V)"]) for r in table]), voltages)
    page.close()


def test_a_viewer_sees_the_queue_but_no_controls(browser, server):
    page = logged_in(browser, server, "viewer", VIEWER_PASSWORD)
    page.click("nav >> text=Queues")
    page.click("table >> text=bench")
    assert page.locator("button", has_text="Start").count() == 0
    assert page.locator("button", has_text="Abort").count() == 0
    shot(page, "queue-viewer")
    page.close()
