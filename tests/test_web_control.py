"""Controlling a queue the server runs: start, pause, resume, abort, by role."""

from __future__ import annotations

import pytest

from database_builders import Hold, iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan, ScanState
from web_support import add_member, make_app


@pytest.fixture
def lab(db):
    return db.create_lab("Control Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    yield app
    app.extensions["pybirch.station"].close()


def bearer(db, lab, username: str, role: Role) -> dict[str, str]:
    user = add_member(db, lab.id, username, role)
    return {"Authorization": f"Bearer {db.create_api_token(user, 'tests')[1]}"}


def test_a_member_starts_pauses_resumes_and_aborts_a_queue_a_viewer_cannot(db, lab, app):
    member = bearer(db, lab, "mia", Role.MEMBER)
    viewer = bearer(db, lab, "vic", Role.VIEWER)
    hold = Hold()
    settings, meter = iv_settings(points=200)
    meter.before_reading[5] = hold  # the scan waits here until released
    queue = DatabaseQueue("controlled", db, lab_id=lab.id, operator="mia")
    handle = queue.enqueue(Scan(settings))
    app.extensions["pybirch.station"].add_queue(queue)
    client = app.test_client()
    base = f"/api/queue/{queue.db_queue_id}"

    assert client.post(f"{base}/start", headers=viewer).status_code == 403
    assert client.post(f"{base}/start", headers=member).json["status"] == "running"
    assert hold.reached.wait(10)

    scan = f"/api/scan/{handle.scan_id}"
    assert client.post(f"{scan}/pause", headers=viewer).status_code == 403
    assert client.post(f"{scan}/pause", headers=member).status_code == 200
    hold.release()
    assert handle.scan.wait_for_state(ScanState.PAUSED, timeout=10)
    assert client.post(f"{scan}/resume", headers=member).status_code == 200
    assert client.post(f"{base}/abort", headers=member).status_code == 200
    assert queue.wait_for_completion(timeout=30)
    assert handle.state in (ScanState.ABORTED, ScanState.COMPLETED)
    assert client.post(f"{scan}/pause", headers=member).status_code == 409


def test_control_of_a_queue_this_server_does_not_run_is_refused_clearly(db, lab, app):
    member = bearer(db, lab, "mia", Role.MEMBER)
    record = db.create_queue("elsewhere", lab_id=lab.id, computer_name="bench-pc-3")
    response = app.test_client().post(f"/api/queue/{record.id}/start", headers=member)
    assert response.status_code == 409
    assert "bench-pc-3" in response.json["error"]["message"]


def test_unknown_actions_and_other_labs_queues_are_not_found(db, lab, app):
    member = bearer(db, lab, "mia", Role.MEMBER)
    other = db.create_lab("Other")
    theirs = db.create_queue("theirs", lab_id=other.id)
    client = app.test_client()
    assert client.post(f"/api/queue/{theirs.id}/start", headers=member).status_code == 404
    assert client.post(f"/api/queue/{theirs.id}/explode", headers=member).status_code == 404
    assert client.post("/api/scan/ffff/pause", headers=member).status_code == 404


def test_a_browser_session_needs_the_csrf_token_to_control(db, lab, app):
    from web_support import csrf_token, log_in

    add_member(db, lab.id, "mia", Role.MEMBER)
    queue = app.extensions["pybirch.station"].add_queue(DatabaseQueue("web", db, lab_id=lab.id))
    client = app.test_client()
    log_in(client, "mia")
    assert client.post(f"/api/queue/{queue.db_queue_id}/pause").status_code == 400
    token = csrf_token(client, "/")
    response = client.post(f"/api/queue/{queue.db_queue_id}/start", headers={"X-CSRFToken": token})
    assert response.status_code == 200
