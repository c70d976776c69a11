"""The scan builder in a browser: live point count and estimate, settings forms from the
instruments' schemas in step with their JSON, errors by their fields with every input kept,
and a design saved as a template and used again.
"""

from __future__ import annotations

import json

import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server

ADMIN_PASSWORD = "builder admin password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with running_server(tmp_path_factory.mktemp("builder-lab"), ADMIN_PASSWORD, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        yield logged_in(browser, server, "admin", ADMIN_PASSWORD)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def settings_of(page, instrument: str):
    return page.locator(f"fieldset[data-instrument='{instrument}']")


def json_of(page, instrument: str) -> dict:
    text = page.locator(f"textarea[name='settings_{instrument}']").input_value()
    return json.loads(text) if text else {}


def fill_map(page) -> None:
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


def test_the_point_count_and_the_estimate_follow_what_is_typed(page, server):
    page.goto(f"{server}/builder/")
    assert page.locator("#est-points").inner_text() == "—"
    assert page.locator("#settings-none").is_visible()
    fill_map(page)
    assert page.locator("#est-points").inner_text() == "4,141"
    page.check("input[name=measure][value='Lock-in']")
    assert page.locator("#est-readings").inner_text() == "4,141"
    # the demo's instruments all have a delay setting: the estimate says it comes from them
    assert "from the instruments' delay settings" in page.locator("#est-duration").inner_text()
    # the demo lab measured a map with exactly these instruments: its pace is offered too
    assert "“Lock-in map”" in page.locator("#est-history").inner_text()

    stage_x = settings_of(page, "Stage X")
    stage_x.locator("input[data-setting=delay]").fill("0.02")  # 4,141 moves of 20 ms
    assert json_of(page, "Stage X") == {"delay": 0.02}
    assert page.locator("#est-duration").inner_text().startswith("≈ 1 min 23 s")
    page.check("input[name=measure][value='Multimeter']")
    assert page.locator("#est-readings").inner_text() == "8,282"
    assert page.locator("#est-history").inner_text() == ""  # no scan used these five
    page.fill("input[name=axis1_points]", "4x")
    assert page.locator("#est-points").inner_text() == "—"
    page.fill("input[name=axis1_points]", "41")
    assert page.locator("#est-points").inner_text() == "4,141"


def test_settings_are_a_form_from_the_schema_kept_in_step_with_the_json(page, server):
    lockin = settings_of(page, "Lock-in")
    assert lockin.is_visible()
    assert not settings_of(page, "Current Source").is_visible()  # not in the scan
    constant = lockin.locator("select[data-setting=time_constant]")
    options = constant.locator("option").all_inner_texts()
    assert options[0] == "— keep"
    assert "0.03" in options
    assert lockin.locator("input[data-setting=phase]").get_attribute("max") == "180"
    assert "now 0.1" in lockin.locator("label.setting", has_text="Time constant").inner_text()
    # nothing in a settings input looks like a value that is not one
    assert page.locator("#builder-form [placeholder]").count() == 0

    constant.select_option(label="0.03")
    lockin.locator("input[data-setting=phase]").fill("12.5")
    assert json_of(page, "Lock-in") == {"time_constant": 0.03, "phase": 12.5}

    lockin.locator("button[data-mode=json]").click()
    textarea = page.locator("textarea[name='settings_Lock-in']")
    assert textarea.is_visible()
    textarea.fill('{"time_constant": 0.3, "phase": -45, "sensitivity": 0.001}')
    lockin.locator("button[data-mode=form]").click()
    assert not textarea.is_visible()
    assert json.loads(constant.input_value()) == 0.3
    assert lockin.locator("input[data-setting=phase]").input_value() == "-45"
    assert json.loads(lockin.locator("select[data-setting=sensitivity]").input_value()) == 0.001

    lockin.locator("button[data-mode=json]").click()
    textarea.fill("{broken")
    lockin.locator("button[data-mode=form]").click()  # refused: the JSON must be fixed first
    assert textarea.is_visible()
    assert "not a JSON object" in lockin.locator(".json-state").inner_text()
    textarea.fill('{"time_constant": 0.3, "phase": -45}')
    lockin.locator("button[data-mode=form]").click()
    assert lockin.locator(".settings-form").is_visible()


def test_errors_sit_next_to_their_fields_and_every_input_is_kept(page, server):
    page.fill("input[name=scan_name]", "")
    page.fill("input[name=axis2_stop]", "500")  # the stage ends at 100 mm
    multimeter = settings_of(page, "Multimeter")
    multimeter.locator("button[data-mode=json]").click()
    page.fill("textarea[name='settings_Multimeter']", '{"include_current": "yes"}')
    page.select_option("select[name=sample_id]", label="DEMO-001")
    page.click("button:has-text('Add to queue')")
    page.locator("#error-summary").wait_for()

    summary = page.locator("#error-summary")
    assert summary.bounding_box()["y"] < page.locator("#builder-form").bounding_box()["y"]
    assert summary.locator("li").count() == 3
    assert page.locator("#f-scan_name-error").inner_text() == "give the scan a name"
    stop_error = page.locator("#f-axis2_stop-error")
    assert "outside the limits of Stage X" in stop_error.inner_text()
    # next to its field: in the same table cell, just under the input
    cell = page.locator("td", has=page.locator("input[name=axis2_stop]"))
    assert cell.locator(".field-error").inner_text() == stop_error.inner_text()
    assert "is not of type 'boolean'" in page.locator("#f-settings_Multimeter-error").inner_text()
    assert page.locator("input[name=axis2_stop]").get_attribute("aria-invalid") == "true"

    # every input kept: axes, readings, settings (form and JSON), queue, sample
    assert page.locator("select[name=axis1_instrument]").input_value() == "Stage Y"
    assert page.locator("input[name=axis1_points]").input_value() == "41"
    assert page.locator("input[name=axis2_stop]").input_value() == "500"
    assert page.locator("input[name=axis2_snake]").is_checked()
    assert page.locator("input[name=measure][value='Lock-in']").is_checked()
    assert page.locator("input[name=measure][value='Multimeter']").is_checked()
    assert page.locator("select[name=queue]").input_value() == "new"
    assert page.locator("input[name=new_queue]").input_value() == "builder-queue"
    assert page.locator("select[name=sample_id] option:checked").inner_text() == "DEMO-001"
    assert json_of(page, "Lock-in") == {"time_constant": 0.3, "phase": -45}
    lockin = settings_of(page, "Lock-in")
    assert json.loads(lockin.locator("select[data-setting=time_constant]").input_value()) == 0.3
    assert json_of(page, "Stage X") == {"delay": 0.02}
    assert page.locator("textarea[name='settings_Multimeter']").is_visible()  # still in JSON
    assert page.locator("#est-points").inner_text() == "4,141"
    shot(page, "builder-errors")


def test_a_design_saved_as_a_template_starts_the_next_scan(page, server):
    page.fill("input[name=scan_name]", "Builder map")
    page.fill("input[name=axis2_stop]", "100")
    page.fill("textarea[name='settings_Multimeter']", '{"include_current": false}')
    page.fill("input[name=template_name]", "Lock-in map, 41 x 101")
    page.fill("input[name=template_description]", "the usual overview of a flake")
    page.click("button:has-text('Save as template')")
    page.wait_for_url("**/builder/?*template=*")
    assert "Filled in from template" in page.locator(".flash.info").last.inner_text()
    assert page.locator("input[name=axis2_stop]").input_value() == "100"
    assert page.locator("#est-points").inner_text() == "4,141"
    assert json_of(page, "Lock-in") == {"time_constant": 0.3, "phase": -45}
    shot(page, "builder-form")

    page.goto(f"{server}/builder/")
    assert page.locator("#est-points").inner_text() == "—"
    page.select_option("select[name=template]", label="Lock-in map, 41 x 101 (2D Scan)")
    page.click("button:has-text('Use template')")
    assert page.locator("input[name=scan_name]").input_value() == "Builder map"
    assert page.locator("input[name=measure][value='Multimeter']").is_checked()
    page.click("a:has-text('Templates')")
    row = page.locator("table.templates tr", has_text="Lock-in map, 41 x 101")
    assert "the usual overview of a flake" in row.inner_text()
    assert "4,141" in row.inner_text()
    row.locator("a:has-text('Use')").click()
    page.select_option("select[name=queue]", "new")
    page.fill("input[name=new_queue]", "from-template")
    page.click("button:has-text('Add to queue')")
    page.wait_for_url("**/scans/*")
    assert "Builder map" in page.locator("h1").inner_text()
