"""The REST API: token and session access, JSON errors, lab isolation, scan data in pages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from database_builders import iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from web_support import add_member, log_in, make_app


@pytest.fixture
def lab(db):
    return db.create_lab("API Lab")


@pytest.fixture
def token(db, lab):
    alice = add_member(db, lab.id, "alice", Role.VIEWER)
    return db.create_api_token(alice, "tests")[1]


@pytest.fixture
def client(db):
    return make_app(db).test_client()


@pytest.fixture
def measured(db, lab):
    settings, meter = iv_settings(points=41, scan_name="IV for the API")
    queue = DatabaseQueue("api", db, operator="carol", lab_id=lab.id)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    queue.close()
    return db.get_scan(handle.scan_id), meter


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_credentials_the_api_answers_401_in_json(client):
    response = client.get("/api/v1/labs")
    assert response.status_code == 401
    assert response.json["error"]["code"] == 401
    bad = client.get("/api/v1/labs", headers=bearer("pbt_not-a-token"))
    assert bad.status_code == 401


def test_a_token_lists_the_callers_labs_and_sets_no_session(client, token, lab):
    response = client.get("/api/v1/labs", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["items"] == [{"id": lab.id, "name": "API Lab", "role": "viewer"}]
    assert "Set-Cookie" not in response.headers
    assert client.get("/api/v1/labs").status_code == 401


def test_a_logged_in_browser_reads_the_api_with_its_session(db, lab, client):
    add_member(db, lab.id, "bob", Role.MEMBER)
    log_in(client, "bob")
    assert client.get("/api/v1/labs").json["items"][0]["role"] == "member"


def test_scans_are_listed_with_paging_filters_and_totals(db, lab, client, token):
    for i in range(7):
        db.create_scan(f"sweep {i}", lab_id=lab.id, status="completed" if i % 2 else "failed")
    page = client.get(
        f"/api/v1/labs/{lab.id}/scans?status=completed&per_page=2", headers=bearer(token)
    ).json
    assert page["total"] == 3
    assert page["pages"] == 2
    assert [scan["status"] for scan in page["items"]] == ["completed", "completed"]
    wrong = client.get(f"/api/v1/labs/{lab.id}/scans?status=nope", headers=bearer(token))
    assert wrong.status_code == 400
    assert "unknown status" in wrong.json["error"]["message"]
    too_big = client.get(f"/api/v1/labs/{lab.id}/scans?per_page=100000", headers=bearer(token))
    assert too_big.status_code == 400


def test_a_scan_and_its_data_come_back_exactly_in_pages(measured, client, token):
    scan, meter = measured
    document = client.get(f"/api/v1/scans/{scan.scan_id}", headers=bearer(token)).json
    assert document["status"] == "completed"
    assert document["measurements"][0]["rows"] == 41
    assert "Multimeter" in document["instrument_settings"]

    base = f"/api/v1/scans/{scan.scan_id}/data/Multimeter"
    first = client.get(f"{base}?start=0&end=30&columns=voltage (V)", headers=bearer(token)).json
    second = client.get(f"{base}?start=30", headers=bearer(token)).json
    voltages = first["columns"]["voltage (V)"] + second["columns"]["voltage (V)"]
    assert np.array_equal(np.array(voltages), meter.rows()[:, 0])
    assert first["point_index"] == list(range(30))
    assert second["first_row"] == 30
    assert second["next_start"] is None
    assert second["total_rows"] == 41

    seed_route = client.get(f"/api/scan/{scan.scan_id}/data/Multimeter", headers=bearer(token))
    assert seed_route.json["rows"] == 41
    assert client.get(f"{base}?start=-1", headers=bearer(token)).status_code == 400
    assert client.get(f"{base}?columns=nope", headers=bearer(token)).status_code == 400
    missing = client.get(f"/api/v1/scans/{scan.scan_id}/data/Nothing", headers=bearer(token))
    assert missing.status_code == 404


def test_another_labs_scans_and_labs_are_404_for_token_users(db, client, token):
    other = db.create_lab("Hidden Lab")
    hidden = db.create_scan("hidden", lab_id=other.id)
    for path in (
        f"/api/v1/scans/{hidden.scan_id}",
        f"/api/v1/scans/{hidden.scan_id}/data/anything",
        f"/api/v1/labs/{other.id}/scans",
        "/api/v1/scans/ffffffffffffffff",
    ):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == 404


def test_a_revoked_token_stops_working(db, client, token):
    record = db.list_api_tokens(db.get_user_by_username("alice").id)[0]
    assert db.revoke_api_token(record.id, record.user_id)
    assert client.get("/api/v1/labs", headers=bearer(token)).status_code == 401


def test_the_openapi_document_lists_every_api_route(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    app = client.application
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
    }
    assert routes == set(document["paths"])


def test_instrument_status_shows_only_the_callers_labs(db, lab, client, token):
    mine = db.create_instrument("Lock-in", "measurement", lab_id=lab.id)
    db.update_instrument_status(mine.id, "connected", current_settings={"sensitivity": 0.002})
    other = db.create_lab("Other Lab")
    db.create_instrument("Their stage", "movement", lab_id=other.id)

    items = client.get("/api/instruments/status", headers=bearer(token)).json["items"]
    assert [(item["name"], item["status"]) for item in items] == [("Lock-in", "connected")]
    assert items[0]["last_settings"] == {"sensitivity": 0.002}
    assert items[0]["last_connected"] is not None


def test_instrument_status_gives_computer_last_change_and_last_error(db, lab, client, token):
    computer = db.register_computer({"computer_name": "RAMAN-PC", "computer_id": "m-1"}, lab.id)
    meter = db.register_instrument_on_computer(
        {"name": "Meter", "instrument_type": "measurement"}, lab.id, computer.id
    )
    db.update_instrument_status(meter.id, "connected")
    db.update_instrument_status(meter.id, "disconnected", error_message="VI_ERROR_CONN_LOST")
    back = db.update_instrument_status(meter.id, "connected")
    db.create_instrument("Spare", "movement", lab_id=lab.id)  # never seen by a station

    items = client.get("/api/instruments/status", headers=bearer(token)).json["items"]
    meter_item, spare = items
    assert (meter_item["name"], meter_item["status"]) == ("Meter", "connected")
    assert (meter_item["computer"], meter_item["computers"]) == ("RAMAN-PC", ["RAMAN-PC"])
    assert meter_item["changed_at"] == back.updated_at.isoformat()
    assert meter_item["last_error"] == "VI_ERROR_CONN_LOST"
    assert meter_item["error_at"] < meter_item["changed_at"]
    assert (spare["name"], spare["computer"], spare["changed_at"], spare["last_error"]) == (
        "Spare",
        None,
        None,
        None,
    )


def test_queues_are_listed_and_one_queue_shows_its_scans(measured, client, token, db, lab):
    scan, _ = measured
    scan_id, queue_id = scan.scan_id, scan.queue_id
    listed = client.get(f"/api/v1/labs/{lab.id}/queues", headers=bearer(token)).json
    assert [q["id"] for q in listed["items"]] == [queue_id]
    assert listed["total"] == 1
    one = client.get(f"/api/v1/queues/{queue_id}", headers=bearer(token)).json
    assert [s["scan_id"] for s in one["scans"]] == [scan_id]
    assert one["status"] == "idle"
    assert one["controllable"] is False  # the test ran it, not this server
    bad = client.get(f"/api/v1/labs/{lab.id}/queues?status=bored", headers=bearer(token))
    assert bad.status_code == 400
    other = db.create_lab("Elsewhere")
    theirs = db.create_queue("theirs", lab_id=other.id)
    assert client.get(f"/api/v1/queues/{theirs.id}", headers=bearer(token)).status_code == 404
    assert client.get(f"/api/v1/labs/{other.id}/queues", headers=bearer(token)).status_code == 404
