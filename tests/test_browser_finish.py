"""The finish of the web UI in a real browser: a phone-sized dashboard with its folded menu,
the dark theme, the first-login password change and a confirmation dialog.

Screenshots go to test-artifacts/: dashboard-phone.png (390 x 844), dashboard-dark.png,
first-password.png, confirm-dialog.png.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from browser_support import ARTIFACTS, chromium, require_chromium, running_server
from database_builders import iv_settings, map_settings
from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from pybirch.web.first_run import ensure_first_admin

ADMIN_PASSWORD = "finish admin password"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def lab_folder(tmp_path_factory):
    """A lab with two finished scans, stored from Python without naming the lab."""
    require_chromium()
    folder = tmp_path_factory.mktemp("finish-lab")
    with DatabaseService(folder / "pybirch.db") as db:
        ensure_first_admin(db, ADMIN_PASSWORD)
        queue = DatabaseQueue("notebook", db, operator="admin")  # the default lab
        iv, _ = iv_settings(points=41, scan_name="IV sweep")
        grid, _ = map_settings(np.linspace(0, 100, 11), np.linspace(0, 60, 7), "Lock-in map")
        queue.enqueue(Scan(iv))
        queue.enqueue(Scan(grid))
        queue.start()
        assert queue.wait_for_completion(timeout=120)
        queue.close()
    return folder


@pytest.fixture(scope="module")
def server(lab_folder):
    with running_server(lab_folder, ADMIN_PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def shot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_dashboard_on_a_phone_folds_its_menu_and_scrolls_tables_inside_cards(browser, server):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    log_in(page, server, "admin", ADMIN_PASSWORD)
    page.wait_for_url(f"{server}/")
    # The scans stored from Python without a lab are in the admin's (default) lab.
    assert page.locator("text=IV sweep").first.is_visible()
    nav = page.locator(".topbar nav")
    assert not nav.is_visible()
    assert no_horizontal_overflow(page)
    cards = page.locator("section.card")
    boxes = [cards.nth(i).bounding_box() for i in range(cards.count())]
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] for box in boxes)
    assert len({round(box["x"]) for box in boxes}) == 1  # stacked: one column
    shot(page, "dashboard-phone")

    page.click("label.menu-button")
    nav.locator("text=Scans").wait_for(state="visible")
    assert nav.locator("text=New scan").is_visible()
    shot(page, "dashboard-phone-menu", full_page=False)
    nav.locator("text=Scans").click()
    page.wait_for_url(re.compile(r"/scans/"))
    assert no_horizontal_overflow(page)  # the wide scans table scrolls inside its card
    context.close()


def test_the_dark_theme_follows_the_system_setting(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    log_in(page, server, "admin", ADMIN_PASSWORD)
    page.wait_for_url(f"{server}/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    ink = page.evaluate("getComputedStyle(document.body).color")
    assert background == "rgb(15, 21, 28)"
    assert ink == "rgb(227, 233, 240)"
    badge = page.locator(".status.completed").first
    colour = badge.evaluate("e => getComputedStyle(e).color")
    red, green, blue = (int(part) for part in colour[4:-1].split(","))
    assert (red + green + blue) / 3 > 150, colour  # light ink on the dark badge
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert icon.endswith("/static/favicon.svg")
    assert page.request.get(icon).ok
    shot(page, "dashboard-dark")
    context.close()


def test_a_new_member_replaces_the_one_time_password_at_the_first_login(browser, server):
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(admin, server, "admin", ADMIN_PASSWORD)
    admin.wait_for_url(f"{server}/")
    admin.click("text=Members")
    admin.fill("input[name=username]", "newbie")
    admin.select_option("select[name=role]", "member")
    admin.click("button:has-text('Add')")
    message = admin.locator(".flash.info").inner_text()
    one_time = re.search(r"one-time password (\S+):", message).group(1)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, server, "newbie", one_time)
    page.wait_for_url(f"{server}/account/new-password")
    page.goto(f"{server}/scans/")  # every page waits for the new password
    page.wait_for_url(f"{server}/account/new-password")
    page.fill("input[name=new]", "my own secret phrase")
    page.fill("input[name=repeat]", "my own secret phrase")
    assert page.locator(".topbar nav").count() == 0  # no page to go to but this one
    shot(page, "first-password")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/")
    assert "Your password is set" in page.locator(".flash").first.inner_text()
    page.close()

    # The confirmation: removing the new member asks first; Cancel keeps them.
    admin.goto(admin.url)
    row = admin.locator("tr", has_text="newbie")
    row.locator("button:has-text('Remove')").click()
    dialog = admin.locator("dialog.confirm-dialog")
    dialog.wait_for(state="visible")
    assert "Remove newbie from" in dialog.inner_text()
    shot(admin, "confirm-dialog", full_page=False)
    dialog.locator("button.cancel").click()
    dialog.wait_for(state="hidden")
    assert admin.locator("tr", has_text="newbie").count() == 1
    row.locator("button:has-text('Remove')").click()
    dialog.locator("button.confirm").click()
    admin.locator(".flash.info", has_text="Member removed").wait_for()
    assert admin.locator("tr", has_text="newbie").count() == 0
    admin.close()
