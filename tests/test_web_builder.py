"""The scan builder: a 2-D map composed in a form runs on this server's instruments."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from database_builders import Hold, map_settings, wait_until
from pybirch.database.errors import DuplicateError
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import Role
from pybirch.database.models import Scan as ScanRecord
from pybirch.database.services.scan_timings import ScanTiming
from pybirch.database_integration import DatabaseQueue
from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.scan import Scan
from pybirch.scan.design import DesignError
from pybirch.web.builder import design_for_builder, design_from_form, field_id
from pybirch.web.builder_estimate import (
    FROM_HISTORY,
    PlannedAxis,
    duration_text,
    estimate,
    point_count,
    settings_seconds,
)
from web_support import add_member, csrf_token, log_in, make_app, station_queues


@pytest.fixture
def lab(db):
    return db.create_lab("Builder Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    app.extensions["pybirch.station"].instruments.add(*demo_instruments(delay=0.0))
    yield app
    app.extensions["pybirch.station"].close()


def member(app, db, lab, role: Role = Role.MEMBER):
    add_member(db, lab.id, "bea", role)
    client = app.test_client()
    log_in(client, "bea")
    return client


MAP = {
    "scan_name": "Browser map",
    "queue": "new",
    "new_queue": "browser",
    "axis1_instrument": "Stage Y",
    "axis1_start": "0",
    "axis1_stop": "40",
    "axis1_points": "5",
    "axis2_instrument": "Stage X",
    "axis2_start": "10",
    "axis2_stop": "90",
    "axis2_points": "9",
    "axis2_snake": "on",
    "measure": "Lock-in",
    "settings_Lock-in": '{"time_constant": 0.03}',
    "action": "start",
}


def test_a_member_builds_and_starts_a_2d_map_that_runs_and_is_stored(db, lab, app):
    client = member(app, db, lab)
    page = client.get(f"/builder/?lab={lab.id}").get_data(as_text=True)
    assert "Stage X" in page
    assert "Lock-in" in page
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, "csrf_token": csrf_token(client, "/builder/")}
    )
    assert response.status_code == 302
    scan_id = response.headers["Location"].rsplit("/", 1)[-1]
    queue = station_queues(app, lab.id)[0]
    assert queue.wait_for_completion(timeout=60)

    record = db.get_scan(scan_id)
    assert record.status == "completed"
    assert record.scan_type == "2D Scan"
    assert record.instrument_settings["Lock-in"]["settings"]["time_constant"] == 0.03
    grid = db.read_scan_data(record.id).to_xarray()["X (V)"]
    assert grid.shape == (5, 9)
    assert np.array_equal(grid["x (mm)"].values, np.linspace(10, 90, 9))
    assert not np.isnan(grid.values).any()


def field_error(page: str, key: str) -> str:
    """The message shown next to field ``key`` ('' if none)."""
    found = re.search(rf'id="{re.escape(field_id(key))}-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else ""


def test_each_mistake_is_shown_next_to_its_field_and_in_the_summary(db, lab, app):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    cases = {
        "scan_name": ({"scan_name": ""}, "give the scan a name"),
        "axis1_points": ({"axis1_points": "0"}, "1 to 100,000 points"),
        "axis1_start": ({"axis1_start": "abc"}, "start must be a number"),
        "axis2_stop": ({"axis2_stop": "500"}, "500 mm is outside the limits of Stage X"),
        "settings_Lock-in": ({"settings_Lock-in": "{not json"}, "not JSON"),
        "settings_Stage X": ({"settings_Stage X": '{"volume": 11}'}, "no setting 'volume'"),
        "measure": ({"measure": ""}, "choose at least one instrument to read"),
        "axis2_instrument": ({"axis2_instrument": "Stage Y"}, "its own instrument"),
        "axis3_instrument": ({"axis3_points": "4"}, "axis 3 has a points but no instrument"),
        "queue": ({"queue": "x"}, "choose a queue"),
        "sample_id": ({"sample_id": "999999"}, "no such sample"),
    }
    for key, (change, message) in cases.items():
        form = {**MAP, **change, "csrf_token": token}
        if change.get("measure") == "":
            form.pop("measure")
        response = client.post(f"/builder/{lab.id}", data=form)
        assert response.status_code == 400, key
        page = response.get_data(as_text=True)
        assert message in field_error(page, key), key
        summary = page[page.index('id="error-summary"') : page.index("</ul>")]
        assert f'href="#{field_id(key)}"' in summary, key
        assert page.index('id="error-summary"') < page.index('id="builder-form"'), key
    assert station_queues(app, lab.id) == []


def test_an_unknown_instrument_and_a_schema_violation_are_errors(db, lab, app):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, "axis1_instrument": "Cryostat", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "no instrument &#39;Cryostat&#39;" in response.get_data(as_text=True)
    response = client.post(
        f"/builder/{lab.id}",
        data={**MAP, "settings_Lock-in": '{"time_constant": 0.5}', "csrf_token": token},
    )
    assert "is not one of" in field_error(response.get_data(as_text=True), "settings_Lock-in")
    assert station_queues(app, lab.id) == []


def test_every_input_is_kept_after_an_error(db, lab, app):
    project = db.create_project("Graphene", lab.id)
    sample = db.create_sample("S-7", lab_id=lab.id, project_id=project.id)
    client = member(app, db, lab)
    form = {
        **MAP,
        "scan_name": "x" * 300,  # too long: the one mistake
        "project_name": "Graphene",
        "sample_id": str(sample.id),
        "measure": ["Lock-in", "Multimeter"],
        "settings_Lock-in": '{"time_constant": 0.03, "phase": 12.5}',
        "settings_Stage X": '{"speed": 20}',
        "template_name": "kept too",
    }
    response = client.post(
        f"/builder/{lab.id}", data={**form, "csrf_token": csrf_token(client, "/builder/")}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "at most 255 characters" in field_error(page, "scan_name")
    for name in ("axis1_start", "axis1_stop", "axis1_points", "axis2_stop", "new_queue"):
        assert f'name="{name}"' in page
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(MAP[name])}"', page), name
    assert re.search(r'name="axis2_snake"[^>]*checked', page)
    assert re.search(r'<option value="Stage Y"[^>]*selected', page)
    assert re.search(r'<option value="new"\s+selected', page)
    assert re.search(rf'<option value="{sample.id}"\s+selected', page)
    assert re.search(r"<option\s+selected>Graphene</option>", page)
    for name in ("Lock-in", "Multimeter"):
        assert re.search(rf'value="{name}"\s+checked', page), name
    assert "{&#34;time_constant&#34;: 0.03, &#34;phase&#34;: 12.5}</textarea>" in page
    assert "{&#34;speed&#34;: 20}</textarea>" in page
    assert 'value="kept too"' in page
    assert "placeholder" not in page[page.index('id="builder-form"') :]


def test_the_page_counts_points_and_estimates_the_duration(db, lab, app):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    form = {**MAP, "scan_name": "", "measure": ["Lock-in", "Multimeter"]}
    form["settings_Stage X"] = '{"delay": 1}'  # 45 moves of 1 s, everything else 0 s
    page = client.post(f"/builder/{lab.id}", data={**form, "csrf_token": token}).get_data(
        as_text=True
    )
    assert re.search(r'id="est-points">45<', page)
    assert re.search(r'id="est-readings">90<', page)
    assert "≈ 45 s (from the instruments&#39; delay settings)" in page


def test_without_delays_the_pace_of_the_last_scan_with_the_same_instruments_is_used():
    timing = ScanTiming("abc", "Old map", frozenset({"Stage X", "Lock-in"}), 0.25)
    other = ScanTiming("def", "Other", frozenset({"Stage X", "Multimeter"}), 9.0)
    catalogue = [
        InstrumentInfo("Stage X", "movement", "Stage", settings={"axis": "x"}),
        InstrumentInfo("Lock-in", "measurement", "Lockin", settings={"phase": 0}),
    ]
    values = {"axis1_instrument": "Stage X", "axis1_start": "0", "axis1_stop": "1"}
    values["axis1_points"] = "40"
    found = estimate(values, ["Lock-in"], catalogue, [other, timing])
    assert (found.points, found.readings, found.seconds) == (40, 40, 10.0)
    assert found.source == FROM_HISTORY
    assert "Old map" in found.text
    assert estimate(values, ["Lock-in"], catalogue, [other]).seconds is None


def test_delays_and_stage_travel_add_up():
    axes = [PlannedAxis("Y", 3, 2.0, False), PlannedAxis("X", 5, 10.0, False)]
    settings = {"Y": {"delay": 1.0}, "X": {"delay": 0.1, "speed": 5.0}, "M": {"delay": 0.2}}
    # Y: 3 moves of 1 s; X: 15 moves of 0.1 s and 3 sweeps + 2 returns of 10 mm at 5 mm/s;
    # M: 15 readings of 0.2 s
    assert settings_seconds(axes, ["M"], settings) == pytest.approx(3 + 1.5 + 10 + 3)
    snaking = [axes[0], PlannedAxis("X", 5, 10.0, True)]
    assert settings_seconds(snaking, ["M"], settings) == pytest.approx(3 + 1.5 + 6 + 3)
    assert settings_seconds(axes, ["M"], {**settings, "M": {}}) is None
    assert point_count(axes) == 15
    assert point_count([PlannedAxis("X", None, None, False)]) is None
    assert [duration_text(s) for s in (0.004, 0.5, 45, 125, 7260, 183600)] == [
        "under 0.01 s",
        "0.5 s",
        "45 s",
        "2 min 5 s",
        "2 h 1 min",
        "2 d 3 h",
    ]


def test_a_stored_design_fills_the_form_it_came_from():
    design = design_from_form(
        {**MAP, "measure": None, "settings_Stage X": '{"delay": 0.1}'}, ["Lock-in"]
    )
    values = design_for_builder({**design.to_dict(), "sample_id": 4})
    assert values["axis2_snake"] == "on"
    assert "axis1_snake" not in values
    assert values["axis2_start"] == "10"
    assert values["sample_id"] == "4"
    assert design_from_form(values, values["measure"]) == design
    with pytest.raises(DesignError):
        design_for_builder({"axes": "nothing"})


def test_viewers_cannot_build_scans(db, lab, app):
    client = member(app, db, lab, Role.VIEWER)
    assert client.get(f"/builder/?lab={lab.id}").status_code == 403
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, "csrf_token": csrf_token(client, "/")}
    )
    assert response.status_code == 403


# -- hardening: queues stay in their lab, names fit their columns, scans have a size cap ------


@pytest.fixture
def running_in_lab_a(db, app):
    """Lab A's queue ``main`` run by this server, its scan held at its second point."""
    lab_a = db.create_lab("Lab A")
    settings, lockin = map_settings(np.linspace(10, 50, 5), np.linspace(0, 30, 4))
    hold = Hold(timeout=60)
    lockin.before_reading[1] = hold
    queue = DatabaseQueue("main", db, operator="alice", lab_id=lab_a.id)
    app.extensions["pybirch.station"].add_queue(queue)
    scan_pk = queue.db_scan_id(queue.enqueue(Scan(settings)).scan_id)
    queue.start()
    hold.wait_reached()
    wait_until(
        lambda: db.get_queue(queue.db_queue_id).status == "running",
        timeout=60,
        what="lab A's queue recorded running",
    )
    yield lab_a, queue, scan_pk
    hold.release()


def assert_lab_a_untouched(db, app, lab_a, queue, scan_pk) -> None:
    record = db.get_queue(queue.db_queue_id)
    assert (record.lab_id, record.status) == (lab_a.id, "running")
    assert db.get_scan(scan_pk).status == "running"
    victim = app.test_client()
    add_member(db, lab_a.id, "vera", Role.MEMBER)
    log_in(victim, "vera")
    assert victim.get(f"/queues/{queue.db_queue_id}").status_code == 200


def test_a_new_queue_named_like_another_labs_running_queue_is_the_new_labs_own(
    db, lab, app, running_in_lab_a
):
    lab_a, queue, scan_pk = running_in_lab_a
    client = member(app, db, lab)
    form = {**MAP, "new_queue": "main", "action": "queue"}
    response = client.post(
        f"/builder/{lab.id}", data={**form, "csrf_token": csrf_token(client, "/builder/")}
    )

    assert response.status_code == 302
    (theirs,) = station_queues(app, lab.id)
    assert theirs.db_queue_id != queue.db_queue_id
    assert db.get_queue("main", lab_id=lab.id).id == theirs.db_queue_id
    assert client.get(f"/queues/{queue.db_queue_id}").status_code == 404
    assert_lab_a_untouched(db, app, lab_a, queue, scan_pk)


def test_a_new_queue_named_like_a_running_queue_of_the_lab_is_a_form_error(
    db, app, running_in_lab_a
):
    lab_a, queue, scan_pk = running_in_lab_a
    client = member(app, db, lab_a)
    form = {**MAP, "new_queue": "main", "action": "queue"}
    response = client.post(
        f"/builder/{lab_a.id}", data={**form, "csrf_token": csrf_token(client, "/builder/")}
    )

    assert response.status_code == 400
    assert "a queue &#39;main&#39; runs in this lab already" in response.get_data(as_text=True)
    assert station_queues(app, lab_a.id) == [queue]
    assert_lab_a_untouched(db, app, lab_a, queue, scan_pk)


def test_names_longer_than_their_columns_are_form_errors(db, lab, app):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    limits = {
        "scan_name": ScanRecord.__table__.c.scan_name.type.length,
        "project_name": ScanRecord.__table__.c.project_name.type.length,
        "new_queue": QueueRecord.__table__.c.queue_id.type.length,
    }
    for field, length in limits.items():
        response = client.post(
            f"/builder/{lab.id}", data={**MAP, field: "x" * (length + 1), "csrf_token": token}
        )
        assert response.status_code == 400, field
        assert f"at most {length} characters" in response.get_data(as_text=True), field
    assert station_queues(app, lab.id) == []


def test_a_scan_with_more_points_than_the_cap_is_a_form_error(db, lab, app, monkeypatch):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    monkeypatch.setenv("MAX_SCAN_POINTS", "44")  # the map takes 5 x 9 = 45 points
    response = client.post(f"/builder/{lab.id}", data={**MAP, "csrf_token": token})
    assert response.status_code == 400
    assert "45 points; the most a scan may take is 44" in response.get_data(as_text=True)
    assert station_queues(app, lab.id) == []

    monkeypatch.delenv("MAX_SCAN_POINTS")  # the default is far above any axis limit
    huge = {"axis3_instrument": "Current Source", "axis3_start": "0", "axis3_stop": "1e-6"}
    points = {f"axis{n}_points": "100000" for n in (1, 2, 3)}
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, **huge, **points, "csrf_token": token}
    )
    assert response.status_code == 400
    assert "1,000,000,000,000,000 points" in response.get_data(as_text=True)
    assert station_queues(app, lab.id) == []


@pytest.mark.parametrize("depth", [33, 100_000])
def test_settings_nested_too_deeply_are_a_form_error(db, lab, app, depth):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    nested = '{"a": ' * depth + "1" + "}" * depth
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, "settings_Lock-in": nested, "csrf_token": token}
    )
    assert response.status_code == 400
    assert "nested more than 32 levels deep" in response.get_data(as_text=True)
    assert station_queues(app, lab.id) == []


# -- templates ------------------------------------------------------------------------------


def save_template(client, lab_id: int, name: str, **changes: str):
    form = {**MAP, "template_name": name, "template_description": "the usual map", **changes}
    return client.post(
        f"/builder/{lab_id}/templates",
        data={**form, "csrf_token": csrf_token(client, "/builder/")},
    )


def test_a_member_saves_a_design_as_a_template_and_starts_a_new_scan_from_it(db, lab, app):
    client = member(app, db, lab)
    response = save_template(client, lab.id, "5 x 9 map")
    assert response.status_code == 302
    (template,) = db.list_scan_templates(lab.id)
    assert (template.name, template.scan_type) == ("5 x 9 map", "2D Scan")
    assert template.description == "the usual map"
    assert f"template={template.id}" in response.headers["Location"]
    assert station_queues(app, lab.id) == []  # saving queues nothing

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Filled in from template &#39;5 x 9 map&#39;" in page
    assert re.search(r'name="axis2_stop"[^>]*value="90"', page)
    assert re.search(r'name="axis2_snake"[^>]*checked', page)
    assert re.search(r'value="Lock-in"\s+checked', page)
    assert "{&#34;time_constant&#34;: 0.03}</textarea>" in page
    listing = client.get(f"/builder/{lab.id}/templates").get_data(as_text=True)
    assert "5 x 9 map" in listing
    assert "Stage X 10.0 → 90.0 (9)" in listing

    again = save_template(client, lab.id, "5 x 9 map")
    assert again.status_code == 400
    assert "exists in this lab" in field_error(again.get_data(as_text=True), "template_name")
    unnamed = save_template(client, lab.id, "  ", axis1_points="x")
    assert "name the template" in field_error(unnamed.get_data(as_text=True), "template_name")
    assert "whole number" in field_error(unnamed.get_data(as_text=True), "axis1_points")

    token = csrf_token(client, "/builder/")
    deleted = client.post(
        f"/builder/{lab.id}/templates/{template.id}/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 302
    assert db.list_scan_templates(lab.id) == []


def test_templates_stay_in_their_lab_and_viewers_only_read_them(db, lab, app):
    other = db.create_lab("Other Lab")
    theirs = db.create_scan_template(other.id, "theirs", {"design": {}})
    ours = db.create_scan_template(lab.id, "ours", {"design": {}})
    with pytest.raises(DuplicateError):
        db.create_scan_template(lab.id, "ours", {})
    assert db.create_scan_template(other.id, "ours", {}).lab_id == other.id  # per lab

    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    assert client.get(f"/builder/?lab={lab.id}&template={theirs.id}").status_code == 404
    stolen = client.post(
        f"/builder/{lab.id}/templates/{theirs.id}/delete", data={"csrf_token": token}
    )
    assert stolen.status_code == 404
    assert db.get_scan_template(theirs.id).name == "theirs"
    assert client.get(f"/builder/{other.id}/templates").status_code == 404

    add_member(db, lab.id, "vic", Role.VIEWER)
    viewer = app.test_client()
    log_in(viewer, "vic")
    listing = viewer.get(f"/builder/{lab.id}/templates")
    assert listing.status_code == 200
    assert "ours" in listing.get_data(as_text=True)
    assert "Delete" not in listing.get_data(as_text=True)
    token = csrf_token(viewer, f"/builder/{lab.id}/templates")
    assert save_template(viewer, lab.id, "mine").status_code == 403
    refused = viewer.post(
        f"/builder/{lab.id}/templates/{ours.id}/delete", data={"csrf_token": token}
    )
    assert refused.status_code == 403
    assert [t.name for t in db.list_scan_templates(lab.id)] == ["ours"]


def test_a_template_made_elsewhere_is_said_to_hold_no_design(db, lab, app):
    made = db.create_scan_template(lab.id, "from Python", {"scan_name": "not a design"})
    client = member(app, db, lab)
    page = client.get(f"/builder/?lab={lab.id}&template={made.id}").get_data(as_text=True)
    assert "holds no design the builder reads" in page


def test_a_previous_scan_fills_the_form_through_its_design(db, lab, app):
    client = member(app, db, lab)
    built = client.post(
        f"/builder/{lab.id}", data={**MAP, "csrf_token": csrf_token(client, "/builder/")}
    )
    scan_id = built.headers["Location"].rsplit("/", 1)[-1]
    assert station_queues(app, lab.id)[0].wait_for_completion(timeout=60)

    page = client.get(f"/builder/?lab={lab.id}&from_scan={scan_id}").get_data(as_text=True)

    assert f"Filled in from scan {scan_id[:8]}" in page
    assert re.search(r'name="axis1_points"[^>]*value="5"', page)
    assert re.search(r'name="axis2_points"[^>]*value="9"', page)
    assert client.get(f"/builder/?lab={lab.id}&from_scan=nope").status_code == 404
    other = db.create_lab("Elsewhere")
    outsider = app.test_client()
    add_member(db, other.id, "oscar", Role.MEMBER)
    log_in(outsider, "oscar")
    assert outsider.get(f"/builder/?lab={other.id}&from_scan={scan_id}").status_code == 404
