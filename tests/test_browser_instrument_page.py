"""An instrument's page in chromium, on ``pybirch serve``: apply the last-known settings in
one click, move a stage, read a lock-in once (a table) and a spectrometer (a plot).

The instruments are bound to the server's own computer between two starts, as a lab
admin binds them, and the server loads them as it starts; everything else is the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from database_builders import bind_spectrometer
from lab_client import LabClient
from pybirch.database import DatabaseService
from pybirch.database.models import Computer
from pybirch.demo.web_lab import bind_demo_instruments

PASSWORD = "instrument page password"
#: Seconds to wait for anything: generous, as the suite must hold on a busy machine.
PATIENCE_MS = 60_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    require_chromium()
    data_dir = Path(tmp_path_factory.mktemp("instrument-page"))
    with running_server(data_dir, PASSWORD) as url:  # the first start: the lab, this computer
        client = LabClient(url, "admin", PASSWORD)
        lab_id = client.http.get(f"{url}/api/v1/labs", timeout=60).json()["items"][0]["id"]
        client.close()
    db = DatabaseService(f"sqlite:///{data_dir / 'pybirch.db'}")
    with db.session() as session:
        server = session.scalar(select(Computer).where(Computer.lab_id.is_(None)))
    # bound to this computer meanwhile, as a lab admin binds them; loaded at the next start
    bind_demo_instruments(db, lab_id, server.id, delay=0.0)
    bind_spectrometer(db, lab_id, server.id)
    stage = db.get_instrument_by_name("Stage X", lab_id, computer_id=server.id)
    (binding,) = db.get_instrument_bindings(stage.id, lab_id=lab_id)
    with running_server(data_dir, PASSWORD) as url:
        # what the stage last ran with was recorded as it loaded; an earlier day's differs
        db.record_binding_use(binding["id"], settings={"axis": "x", "delay": 0.0, "speed": 2.5})
        yield {"url": url, "db": db, "lab_id": lab_id, "server_id": server.id}
    db.close()


@pytest.fixture(scope="module")
def page(lab):
    with chromium() as browser:
        yield logged_in(browser, lab["url"], "admin", PASSWORD)


def open_instrument(page, lab: dict, name: str) -> None:
    """From the instruments list, as a user gets there."""
    page.goto(f"{lab['url']}/instruments/?lab={lab['lab_id']}")
    page.click(f"#instruments-live a:text-is('{name}')")
    page.wait_for_selector(f"h1:text-is('{name}')", timeout=PATIENCE_MS)


def test_apply_move_and_read_from_the_instrument_page(page, lab) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    open_instrument(page, lab, "Stage X")
    assert page.locator(".loaded-driver").inner_text().startswith("installed FakeStage")
    speed = page.locator("input[name='setting-speed']")
    assert speed.input_value() == "0.0"  # what the live stage runs with now
    page.click("button:text-is('Apply these')")
    page.wait_for_selector("#action-result", timeout=PATIENCE_MS)
    assert "Settings applied to Stage X" in page.locator("#action-result").inner_text()
    assert page.locator("input[name='setting-speed']").input_value() == "2.5"

    page.fill("input[name=position]", "33")
    page.click("button:text-is('Move')")
    page.wait_for_selector(".moved-to", timeout=PATIENCE_MS)
    assert page.locator(".moved-to").inner_text() == "33 mm"
    actions = page.locator("#manual-actions").inner_text()
    assert "move to 33" in actions
    assert "admin" in actions
    page.screenshot(path=str(ARTIFACTS / "instrument-page-stage.png"), full_page=True)

    open_instrument(page, lab, "Lock-in")
    page.click("button:text-is('Read once')")
    page.wait_for_selector(".reading-table", timeout=PATIENCE_MS)
    headers = page.locator(".reading-table th").all_inner_texts()
    assert headers == ["X (V)", "Y (V)", "R (V)", "Theta (deg)"]
    assert page.locator(".reading-table td").count() == 4

    open_instrument(page, lab, "Spectrometer")
    page.click("button:text-is('Read once')")
    page.wait_for_selector(".reading-plot svg polyline", timeout=PATIENCE_MS)
    assert "1024 rows" in page.locator(".reading-plot figcaption").inner_text()
    box = page.locator(".reading-plot svg").bounding_box()
    assert box["width"] > 600
    page.screenshot(path=str(ARTIFACTS / "instrument-page-spectrum.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(ARTIFACTS / "instrument-page-spectrum-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    open_instrument(page, lab, "Stage X")
    page.screenshot(path=str(ARTIFACTS / "instrument-page-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})
