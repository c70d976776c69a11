"""The scan page in a browser: a running scan paused, resumed and aborted from its page (abort
confirmed in a dialog), its numbers and log live, its final numbers without a reload, notes and
tags edited there and found in the scans list; at desktop and phone width."""

from __future__ import annotations

import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from lab_client import LabClient

ADMIN_PASSWORD = "scan page admin password"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with running_server(tmp_path_factory.mktemp("scan-page"), ADMIN_PASSWORD, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def lab_client(server):
    client = LabClient(server, "admin", ADMIN_PASSWORD)
    yield client
    client.close()


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def lab_id(client: LabClient) -> int:
    return client.http.get(f"{client.url}/api/v1/labs").json()["items"][0]["id"]


def shown_number(page, element_id: str) -> int:
    return int(page.locator(f"#{element_id}").inner_text().replace(",", ""))


def wait_for_text(page, selector: str, text: str, timeout: float = 20_000) -> None:
    """Wait until the element's whole text is ``text`` (pushed live: the page is not reloaded)."""
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent.trim() === text",
        arg=[selector, text],
        timeout=timeout,
    )


def wait_for_more(page, element_id: str, than: int, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "([id, than]) => Number(document.getElementById(id).textContent.replace(/,/g, '')) > than",
        arg=[element_id, than],
        timeout=timeout,
    )


def enabled_controls(page) -> set[str]:
    buttons = page.locator("#scan-controls button[data-action]")
    return {
        buttons.nth(i).get_attribute("data-action")
        for i in range(buttons.count())
        if buttons.nth(i).is_enabled()
    }


def test_pause_resume_and_abort_a_running_scan_from_its_page(server, lab_client, browser):
    lab = lab_id(lab_client)
    scan_id = lab_client.build(lab, "Gate sweep", 3000, 0.02, "page-queue", start=True)
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server}/scans/{scan_id}")
    page.locator("#scan-plot").wait_for(timeout=30_000)  # the plot's page reloads once points exist
    page.evaluate("() => { window.notReloaded = true; }")
    wait_for_text(page, "#scan-status", "running")

    # The numbers grow live: points, percent and the measurement's rows.
    first = shown_number(page, "scan-points")
    wait_for_more(page, "scan-points", first)
    rows = page.locator("tr[data-measurement='Lock-in'] td.rows")
    wait_for_more(page, "scan-points", shown_number(page, "scan-points"))
    assert int(rows.inner_text().replace(",", "")) > 0
    assert page.locator("#scan-started").inner_text() != "—"
    assert page.locator("#scan-ended").inner_text() == "—"
    assert enabled_controls(page) == {"pause", "abort"}

    # Pause: the status, the buttons and the log follow without a reload.
    log_lines = page.locator("#scan-log tr").count()
    page.click("#scan-controls button[data-action=pause]")
    wait_for_text(page, "#scan-status", "paused")
    page.locator("#scan-log td", has_text="pause requested").wait_for(timeout=10_000)
    assert page.locator("#scan-log tr").count() > log_lines
    page.wait_for_function("() => !document.querySelector('[data-action=resume]').disabled")
    assert enabled_controls(page) == {"resume", "abort"}
    assert page.locator("#scan-status.status.paused").count() == 1

    page.click("#scan-controls button[data-action=resume]")
    wait_for_text(page, "#scan-status", "running")
    page.locator("#scan-log td", has_text="resume requested").wait_for(timeout=10_000)
    page.wait_for_function("() => !document.querySelector('[data-action=pause]').disabled")
    resumed_at = shown_number(page, "scan-points")
    wait_for_more(page, "scan-points", resumed_at)

    # Notes and tags, saved in place, while the scan runs.
    page.fill(
        "#notes-form textarea[name=notes]", "Back gate swept at 4 K.\nLeak current below 1 pA."
    )
    page.fill("#notes-form input[name=tags]", "cooldown 7, gate sweep")
    page.click("#notes-form button[type=submit]")
    wait_for_text(page, "#notes-state", "Saved.")
    assert page.locator("#scan-tags a.tag").all_inner_texts() == ["cooldown 7", "gate sweep"]
    assert "Leak current" in page.locator("#scan-notes-text").inner_text()
    page.click("details.notes-edit summary")  # fold the form: the page as it is read
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "scan-page-desktop.png"), full_page=True)

    phone = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    phone.set_viewport_size(PHONE)
    phone.goto(f"{server}/scans/{scan_id}")
    wait_for_text(phone, "#scan-status", "running")
    phone.locator("#scan-plot .js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
    # The page's own parts fit the phone (wide tables and code scroll inside their cards).
    wide = phone.evaluate("() => document.getElementById('scan-page').scrollWidth")
    phone.screenshot(path=str(ARTIFACTS / "scan-page-phone.png"), full_page=True)
    phone.context.close()

    # Abort asks first: keeping it running changes nothing.
    page.click("#scan-controls button[data-action=abort]")
    dialog = page.locator("#abort-dialog")
    dialog.wait_for(state="visible")
    dialog.locator("button[value=cancel]").click()
    dialog.wait_for(state="hidden")
    assert page.locator("#scan-status").inner_text() == "running"
    page.click("#scan-controls button[data-action=abort]")
    dialog.locator("button[value=abort]").click()
    wait_for_text(page, "#scan-status", "aborted")

    # The final numbers, as stored, without a reload.
    page.wait_for_function("() => document.getElementById('scan-ended').textContent !== '—'")
    final = lab_client.http.get(f"{server}/api/v1/scans/{scan_id}/live").json()
    assert final["status"] == "aborted"
    wait_for_text(page, "#scan-points", f"{final['points_done']:,}")
    final_rows = f"{final['measurements'][0]['rows']:,}"
    wait_for_text(page, "tr[data-measurement='Lock-in'] td.rows", final_rows)
    assert page.locator("#scan-controls").is_hidden()
    assert page.evaluate("() => window.notReloaded") is True
    assert wide <= PHONE["width"], f"the phone page scrolls sideways ({wide} px)"

    # The list finds the scan by its tag and by text in its notes, and shows both.
    page.goto(f"{server}/scans/?lab={lab}&tag=Gate+Sweep")
    rows = page.locator("table.scans-table tbody tr")
    assert [rows.nth(i).get_attribute("data-scan-id") for i in range(rows.count())] == [scan_id]
    assert page.locator("table.scans-table a.tag", has_text="cooldown 7").count() == 1
    page.goto(f"{server}/scans/")
    page.fill("input[name=q]", "leak current")
    page.click("form.filters button[type=submit]")
    assert [rows.nth(i).get_attribute("data-scan-id") for i in range(rows.count())] == [scan_id]
    assert "Back gate swept" in page.locator(".notes-line").first.inner_text()
    page.context.close()


def test_a_scan_that_ends_shows_its_final_numbers_without_a_reload(server, lab_client, browser):
    lab = lab_id(lab_client)
    scan_id = lab_client.build(lab, "Short sweep", 120, 0.04, "short-queue", start=True)
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server}/scans/{scan_id}")
    page.locator("#scan-plot").wait_for(timeout=30_000)
    page.evaluate("() => { window.notReloaded = true; }")
    wait_for_text(page, "#scan-status", "completed", timeout=60_000)
    wait_for_text(page, "#scan-points", "120")
    wait_for_text(page, "#scan-total", "120")
    wait_for_text(page, "#scan-percent", "100 %")
    wait_for_text(page, "tr[data-measurement='Lock-in'] td.rows", "120")
    page.locator("#scan-log td", has_text="completed").first.wait_for(timeout=10_000)
    assert page.locator("#scan-ended").inner_text() != "—"
    assert page.locator("#scan-status.status.completed").count() == 1
    assert page.evaluate("() => window.notReloaded") is True
    page.context.close()
