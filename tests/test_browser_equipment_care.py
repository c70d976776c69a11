"""Calibration and maintenance in a browser: the dashboard's "Due soon / overdue" card leads
to an instrument's care page, where a certificate is uploaded and downloaded again and
maintenance is logged; light and dark theme, laptop and phone width."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from lab_client import LabClient
from pybirch.configuration.integration_config import DEFAULT_DATABASE_NAME
from pybirch.database import DatabaseService

ADMIN_PASSWORD = "equipment care admin password"
PHONE = {"width": 390, "height": 844}
TODAY = date.today()
OVERDUE_SINCE = TODAY - timedelta(days=12)
SOON = TODAY + timedelta(days=9)
#: A one-page PDF, as a calibration lab sends it.
CERTIFICATE = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A demo server whose lab has a lock-in overdue for calibration and a stage due for service.

    Those two are the lab's own records (on no computer); the demo's instruments of the same
    names on the server's computer are what its scans use.
    """
    require_chromium()
    data_dir = tmp_path_factory.mktemp("care")
    with running_server(data_dir, ADMIN_PASSWORD, demo=True) as url:
        db = DatabaseService(f"sqlite:///{data_dir / DEFAULT_DATABASE_NAME}")
        lab = db.search_labs().items[0]
        lockin = db.register_instrument(
            {
                "name": "Lock-in",
                "instrument_type": "measurement",
                "manufacturer": "Stanford Research",
                "model": "SR830",
                "serial_number": "48213",
            },
            lab.id,
        )
        db.record_calibration(
            lockin.id,
            lab_id=lab.id,
            calibrated_on=OVERDUE_SINCE - timedelta(days=365),
            due_on=OVERDUE_SINCE,
            performed_by="SRS service centre",
        )
        stage = db.register_instrument(
            {"name": "Stage X", "instrument_type": "movement", "manufacturer": "Newport"}, lab.id
        )
        db.set_maintenance_schedule(stage.id, lab_id=lab.id, interval_days=180, next_due=SOON)
        db.register_instrument({"name": "Thermometer", "instrument_type": "measurement"}, lab.id)
        yield {"url": url, "db": db, "lab": lab, "lockin": lockin, "stage": stage}
        db.close()


@pytest.fixture(scope="module")
def browser(world):
    with chromium() as browser:
        yield browser


def test_the_due_card_leads_to_the_care_page_where_a_calibration_is_recorded(
    world, browser, tmp_path
):
    url, lockin = world["url"], world["lockin"]
    page = logged_in(browser, url, "admin", ADMIN_PASSWORD)
    card = page.locator("#care-due")
    rows = card.locator("tbody tr")
    assert rows.count() == 2  # the thermometer has nothing scheduled
    assert rows.nth(0).inner_text().startswith("Lock-in")  # the most urgent first
    assert card.locator(".due.overdue").inner_text() == f"overdue since {OVERDUE_SINCE}"
    assert card.locator(".due.due_soon").inner_text() == "due in 9 days"
    card.screenshot(path=str(ARTIFACTS / "care-dashboard-card.png"))

    card.locator("a", has_text="Lock-in").first.click()
    page.wait_for_url(f"{url}/instruments/{lockin.id}/care")
    assert page.locator("#calibration-card .due").inner_text() == f"overdue since {OVERDUE_SINCE}"

    certificate = tmp_path / "SR830 calibration 2026.pdf"
    certificate.write_bytes(CERTIFICATE)
    form = page.locator("#calibration-form")
    if not form.is_visible():
        page.locator("summary", has_text="Record a calibration").click()
    form.locator("input[name=calibrated_on]").fill(TODAY.isoformat())
    form.locator("input[name=due_on]").fill((TODAY + timedelta(days=365)).isoformat())
    form.locator("input[name=performed_by]").fill("SRS service centre")
    form.locator("input[name=certificate]").set_input_files(str(certificate))
    form.locator("textarea[name=notes]").fill("As found: within spec on all ranges.")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{url}/instruments/{lockin.id}/care")

    assert "recorded" in page.locator(".flash.info").inner_text()
    badge = page.locator("#calibration-card .due")
    assert badge.inner_text() == f"ok until {TODAY + timedelta(days=365)}"
    assert page.locator("#calibration-history tbody tr").count() == 2
    with page.expect_download() as download:
        page.locator("#current-certificate").click()
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "SR830 calibration 2026.pdf"
    assert saved.read_bytes() == CERTIFICATE

    page.locator("summary", has_text="Log maintenance").click()
    maintenance = page.locator("#maintenance-form")
    maintenance.locator("textarea[name=description]").fill("Cleaned the front-panel BNCs.")
    maintenance.locator("input[name=next_due]").fill((TODAY + timedelta(days=20)).isoformat())
    maintenance.locator("button[type=submit]").click()
    page.wait_for_url(f"{url}/instruments/{lockin.id}/care")
    assert "Cleaned the front-panel BNCs." in page.locator("#maintenance-log").inner_text()
    assert page.locator("#maintenance-card .due").inner_text() == "due in 20 days"
    page.screenshot(path=str(ARTIFACTS / "care-page.png"), full_page=True)

    # The dashboard follows: the lock-in is no longer overdue, only due soon for service.
    page.goto(f"{url}/")
    lockin_row = page.locator("#care-due tbody tr", has_text="Lock-in")
    assert lockin_row.locator(".due").inner_text() == "due in 20 days"
    assert page.locator("#care-due .due.overdue").count() == 0

    # The instruments list gives each instrument its badges, linked to its care page.
    page.goto(f"{url}/instruments/")
    stage_row = page.locator("tr", has_text="Stage X")
    assert stage_row.locator("td.care .due").inner_text() == "maintenance due in 9 days"
    assert page.locator("tr", has_text="Thermometer").locator("td.care").inner_text() == (
        "not scheduled"
    )
    page.locator("table").screenshot(path=str(ARTIFACTS / "care-instruments-list.png"))
    page.close()


def test_the_care_page_in_dark_theme_and_at_phone_width(world, browser):
    url, stage = world["url"], world["stage"]
    page = browser.new_page(viewport=PHONE, color_scheme="dark")
    page.goto(f"{url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/instruments/{stage.id}/care")
    badge = page.locator("#maintenance-card .due")
    assert badge.inner_text() == "due in 9 days"
    # The badge's ink stays readable on the dark card: light text, not the light theme's.
    ink = badge.evaluate("e => getComputedStyle(e).color")
    red, green, blue = (int(part) for part in ink[ink.index("(") + 1 : -1].split(",")[:3])
    assert (red + green + blue) / 3 > 150, ink
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=str(ARTIFACTS / "care-page-phone-dark.png"), full_page=True)
    page.goto(f"{url}/instruments/")
    page.screenshot(path=str(ARTIFACTS / "care-instruments-phone-dark.png"), full_page=True)
    page.close()


def test_a_scan_on_an_overdue_stage_says_so_on_its_page(world, browser):
    url, db, lab = world["url"], world["db"], world["lab"]
    # The demo's Stage X on the server's computer (the one its scans use) is overdue for service.
    for instrument in db.search_instruments("Stage X", lab_id=lab.id).items:
        if instrument.id != world["stage"].id:
            db.set_maintenance_schedule(
                instrument.id, lab_id=lab.id, interval_days=90, next_due=OVERDUE_SINCE
            )
    client = LabClient(url, "admin", ADMIN_PASSWORD)
    try:
        scan_id = client.build(lab.id, "Overdue stage sweep", 5, 0.0, "care-queue", start=True)
    finally:
        client.close()
    page = logged_in(browser, url, "admin", ADMIN_PASSWORD)
    page.goto(f"{url}/scans/{scan_id}")
    warning = page.locator("#scan-equipment-warnings")
    assert "Stage X on " in warning.inner_text()
    assert f"maintenance overdue since {OVERDUE_SINCE}" in warning.inner_text()
    log = page.locator("#scan-log")
    assert f"maintenance overdue since {OVERDUE_SINCE}" in log.inner_text()
    page.screenshot(path=str(ARTIFACTS / "care-scan-warning.png"))
    warning.locator("a").first.click()
    page.wait_for_url(f"{url}/instruments/*/care")
    assert page.locator("#maintenance-card .due.overdue").count() == 1
    page.close()
