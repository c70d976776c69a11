"""The demo lab in a browser: start the live queue, watch the map grow, pause, resume, abort."""

from __future__ import annotations

import re

import pytest

from browser_support import (
    ARTIFACTS,
    chromium,
    confirm,
    logged_in,
    require_chromium,
    running_server,
)

ADMIN_PASSWORD = "live demo admin password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with running_server(tmp_path_factory.mktemp("live-lab"), ADMIN_PASSWORD, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        yield logged_in(browser, server, "admin", ADMIN_PASSWORD)


def points_shown(page) -> int:
    match = re.match(r"([\d,]+) points", page.locator(".plot-note").inner_text())
    return int(match.group(1).replace(",", "")) if match else 0


def wait_for_more_points(page, than: int) -> None:
    """Wait until the plot shows more than ``than`` points."""
    shown = "parseInt(document.querySelector('.plot-note').textContent.replace(/,/g, ''))"
    # A function, not an expression: the page's CSP forbids the eval an expression needs.
    page.wait_for_function(f"() => {shown} > {than}", timeout=20_000)


def wait_for_status(page, status: str, timeout: float = 20.0) -> None:
    """Reload the queue page until its scan shows ``status`` (the database is written async)."""
    import time

    deadline = time.monotonic() + timeout
    while page.locator("td .status", has_text=status).count() == 0:
        assert time.monotonic() < deadline, f"the scan never showed {status!r}"
        page.wait_for_timeout(300)
        page.reload()


def test_start_watch_the_heatmap_grow_pause_resume_and_abort(page, server):
    page.click("nav >> text=Queues")
    page.click("table >> text=demo-live")
    page.locator("#queue-status", has_text="idle").wait_for()
    # Start it from "elsewhere" (the API): this page learns of it live, without a reload.
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    queue_id = page.locator("#queue-live").get_attribute("data-queue-id")
    response = page.request.post(
        f"{server}/api/queue/{queue_id}/start", headers={"X-CSRFToken": token}
    )
    assert response.ok
    page.locator("#queue-status", has_text="running").wait_for(timeout=10_000)
    page.locator("tr[data-scan-id] .status", has_text="running").wait_for(timeout=10_000)
    page.locator("#queue-log td", has_text="started").first.wait_for(timeout=10_000)
    page.get_by_role("link", name="Lock-in map").click()

    page.locator(".plot-map .main-svg").first.wait_for(timeout=20_000)
    page.wait_for_function("() => document.querySelector('.plot-note').textContent.match(/^[1-9]/)")
    first = points_shown(page)
    wait_for_more_points(page, first)
    assert page.locator("#scan-status").inner_text() == "running"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-heatmap.png"), full_page=True)

    page.go_back()
    page.click("td.controls button:has-text('Pause')")
    wait_for_status(page, "paused")
    page.click("td.controls button:has-text('Resume')")
    wait_for_status(page, "running")

    page.click("div.page-head button:has-text('Abort')")
    confirm(page)
    wait_for_status(page, "aborted")
    page.screenshot(path=str(ARTIFACTS / "queue-aborted.png"), full_page=True)


def test_build_a_2d_scan_in_the_builder_start_it_pause_resume_abort(page, server):
    page.goto(f"{server}/builder/")
    page.fill("input[name=scan_name]", "Builder map")
    page.select_option("select[name=queue]", "new")
    page.fill("input[name=new_queue]", "builder-queue")
    page.select_option("select[name=axis1_instrument]", "Stage Y")
    page.fill("input[name=axis1_start]", "0")
    page.fill("input[name=axis1_stop]", "60")
    page.fill("input[name=axis1_points]", "41")
    page.select_option("select[name=axis2_instrument]", "Stage X")
    page.fill("input[name=axis2_start]", "0")
    page.fill("input[name=axis2_stop]", "100")
    page.fill("input[name=axis2_points]", "101")
    page.check("input[name=axis2_snake]")
    page.check("input[name=measure][value='Lock-in']")
    page.screenshot(path=str(ARTIFACTS / "builder.png"), full_page=True)
    page.click("button:has-text('Add and start')")

    page.locator(".plot-map .main-svg").first.wait_for(timeout=30_000)
    assert page.locator(".plot-map").evaluate("div => div.data[0].x.length") == 101
    first = points_shown(page)
    wait_for_more_points(page, first)

    page.click("nav >> text=Queues")
    page.click("table >> text=builder-queue")
    page.click("td.controls button:has-text('Pause')")
    wait_for_status(page, "paused")
    page.click("td.controls button:has-text('Resume')")
    wait_for_status(page, "running")
    page.click("div.page-head button:has-text('Abort')")
    confirm(page)
    wait_for_status(page, "aborted")
