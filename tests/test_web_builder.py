"""The scan builder: a 2-D map composed in a form runs on this server's instruments."""

from __future__ import annotations

import numpy as np
import pytest

from database_builders import Hold, map_settings, wait_until
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import Role
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration import DatabaseQueue
from pybirch.demo.web_lab import demo_instruments
from pybirch.scan import Scan
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
    assert station_queues(app, lab.id) == []


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
