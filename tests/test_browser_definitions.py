"""A driver's life in a real browser: from a template, an error marked as it is typed, saved,
edited, compared side by side, and approved by a second admin.

Playwright drives Debian's chromium against ``pybirch serve``; screenshots go to
test-artifacts/ (definition-*.png).
"""

from __future__ import annotations

import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.web.auth.passwords import hash_password
from pybirch.web.first_run import ensure_first_admin

ADMIN_PASSWORD = "driver admin password"
SECOND_PASSWORD = "second admin password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose lab has its owner ("admin") and a second admin ("reviewer")."""
    require_chromium()
    folder = tmp_path_factory.mktemp("browser-definitions")
    with DatabaseService(folder / "pybirch.db") as db:
        first = ensure_first_admin(db, ADMIN_PASSWORD)
        lab = db.get_lab_by_name(first.lab_name)
        reviewer = db.create_user(
            "reviewer", display_name="Second admin", password_hash=hash_password(SECOND_PASSWORD)
        )
        db.set_membership(lab.id, reviewer.id, Role.ADMIN)
    with running_server(folder, ADMIN_PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


#: True once the editor shows the keyword ``class`` in another colour than plain text.
HIGHLIGHTED = """() => {
  const content = document.querySelector(".code-editor").shadowRoot.querySelector(".cm-content");
  const plain = getComputedStyle(content).color;
  return [...content.querySelectorAll("span")].some(
    (span) => span.textContent === "class" && getComputedStyle(span).color !== plain);
}"""


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"definition-{name}.png"), full_page=True)


def _code(page) -> str:
    """The code the form will post (the editor keeps the hidden textarea in step)."""
    return page.locator("#source_code").input_value()


def _type_at_the_end(page, text: str) -> None:
    page.click(".cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_a_driver_from_template_to_approval(browser, server):
    page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.click("nav >> text=Drivers")
    page.click("text=New driver")
    page.click("a.template:has-text('VisaBaseMeasurementInstrument')")
    editor = page.locator(".cm-editor")
    editor.wait_for()
    assert page.locator("#source_code").is_hidden()  # the editor replaced the textarea
    page.wait_for_function(HIGHLIGHTED)  # Python keywords in a colour of their own
    page.locator("#validation-state.good").wait_for()
    assert "LockIn(VisaBaseMeasurementInstrument)" in page.locator("#validation-state").inner_text()
    shot(page, "new")

    # An error typed into the editor is marked at its line, with no save.
    template = _code(page)
    _type_at_the_end(page, "\nreading = = 1")
    page.locator(".cm-lintRange-error").first.wait_for()
    problem = page.locator("#problems li").first
    problem.wait_for()
    last_line = _code(page).count("\n") + 1  # where the error was typed
    assert f"line {last_line}, column" in problem.inner_text()
    assert "SyntaxError" in problem.inner_text()
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    shot(page, "editor-error")

    for _ in range(10):  # undo the typing
        if _code(page) == template:
            break
        page.keyboard.press("Control+z")
    assert _code(page) == template
    page.locator("#validation-state.good").wait_for()
    page.fill("input[name=display_name]", "SR830 lock-in (bench 2)")
    page.click("button:has-text('Save driver')")
    page.wait_for_url("**/definitions/*")
    assert "saved as version 1" in page.locator(".flash").inner_text()
    assert page.locator("#version-1 .status").inner_text() == "pending"
    shot(page, "saved")

    # A second version, made in the editor.
    page.click("text=Edit code")
    page.locator(".cm-editor").wait_for()
    page.locator("#validation-state.good").wait_for()
    _type_at_the_end(page, "\n# OUTP? 1 and 2: X and Y in volts (SR830 manual, p. 5-15)")
    page.fill("input[name=change_summary]", "say where the commands come from")
    page.locator("#validation-state.good").wait_for()
    page.click("button:has-text('Save')")
    page.wait_for_url("**/definitions/*")
    assert "Saved as version 2" in page.locator(".flash").inner_text()
    definition_page = page.url
    shot(page, "page")

    page.click("#version-2 >> text=Diff")
    page.wait_for_url("**/diff**")
    assert page.locator("td.text.added", has_text="# OUTP? 1 and 2").count() == 1
    assert page.locator("td.text.removed").count() == 0  # a line was added, none removed
    shot(page, "diff")

    page.goto(f"{server}/approvals/")
    assert page.get_by_text("You wrote this version").first.is_visible()
    assert page.locator("button:has-text('Approve')").count() == 0
    assert errors == []

    # The second admin approves version 2 on the approvals page.
    reviewer = logged_in(browser, server, "reviewer", SECOND_PASSWORD)
    reviewer.click("nav >> text=Drivers")
    assert reviewer.locator("table >> text=SR830 lock-in (bench 2)").is_visible()
    shot(reviewer, "list")
    reviewer.click("text=Approvals")
    card = reviewer.locator("section.review", has_text="v2")
    card.locator("textarea[name=comment]").fill("Commands match the SR830 manual.")
    shot(reviewer, "approvals")
    card.locator("button:has-text('Approve v2')").click()
    assert "version 2 approved" in reviewer.locator(".flash").inner_text()
    assert reviewer.locator("section.review").count() == 0  # v1 lapsed: superseded
    reviewer.goto(definition_page)
    assert reviewer.locator("#version-2 .status").inner_text() == "approved"
    assert reviewer.locator("#version-1 .status").inner_text() == "superseded"
    assert "Commands match the SR830 manual." in reviewer.content()
    shot(reviewer, "approved")
