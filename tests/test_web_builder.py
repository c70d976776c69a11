"""The scan builder: a 2-D map composed in a form runs on this server's instruments."""

from __future__ import annotations

import numpy as np
import pytest

from pybirch.database.models import Role
from pybirch.demo.web_lab import demo_instruments
from web_support import add_member, csrf_token, log_in, make_app


@pytest.fixture
def lab(db):
    return db.create_lab("Builder Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    app.extensions["pybirch.local_instruments"].add(*demo_instruments(delay=0.0))
    yield app
    app.extensions["pybirch.local_queues"].close()


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
    queue = app.extensions["pybirch.local_queues"].in_lab(lab.id)[0]
    assert queue.wait_for_completion(timeout=60)

    record = db.get_scan(scan_id)
    assert record.status == "completed"
    assert record.scan_type == "2D Scan"
    assert record.instrument_settings["Lock-in"]["settings"]["time_constant"] == 0.03
    grid = db.read_scan_data(record.id).to_xarray()["X (V)"]
    assert grid.shape == (5, 9)
    assert np.array_equal(grid["x (mm)"].values, np.linspace(10, 90, 9))
    assert not np.isnan(grid.values).any()


def test_mistakes_come_back_with_messages_and_nothing_is_queued(db, lab, app):
    client = member(app, db, lab)
    token = csrf_token(client, "/builder/")
    cases = {
        "scan_name": ({"scan_name": ""}, "give the scan a name"),
        "points": ({"axis1_points": "0"}, "1 to 100,000 points"),
        "number": ({"axis1_start": "abc"}, "must be numbers"),
        "limits": ({"axis2_stop": "500"}, "outside the limits"),
        "json": ({"settings_Lock-in": "{not json"}, "not JSON"),
        "setting": ({"settings_Lock-in": '{"volume": 11}'}, "volume"),
        "no reading": ({"measure": ""}, "choose at least one instrument to read"),
        "same axis": ({"axis2_instrument": "Stage Y"}, "its own instrument"),
        "unknown": ({"axis1_instrument": "Cryostat"}, "no instrument &#39;Cryostat&#39;"),
    }
    for name, (change, message) in cases.items():
        form = {**MAP, **change, "csrf_token": token}
        if change.get("measure") == "":
            form.pop("measure")
        response = client.post(f"/builder/{lab.id}", data=form)
        assert response.status_code == 400, name
        assert message in response.get_data(as_text=True), name
    assert app.extensions["pybirch.local_queues"].in_lab(lab.id) == []


def test_viewers_cannot_build_scans(db, lab, app):
    client = member(app, db, lab, Role.VIEWER)
    assert client.get(f"/builder/?lab={lab.id}").status_code == 403
    response = client.post(
        f"/builder/{lab.id}", data={**MAP, "csrf_token": csrf_token(client, "/")}
    )
    assert response.status_code == 403
