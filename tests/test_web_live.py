"""Socket.IO: logins on connect and join, rooms per scan/queue/lab, live rows, catch-up."""

from __future__ import annotations

import time

import numpy as np
import pytest

from database_builders import iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from pybirch.web.live import socketio
from web_support import add_member, csrf_token, log_in, make_app, post_form


@pytest.fixture
def lab(db):
    return db.create_lab("Live Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    yield app
    app.extensions["pybirch.station"].close()


def browser(app, db, lab, username: str = "liv"):
    add_member(db, lab.id, username, Role.VIEWER)
    http = app.test_client()
    log_in(http, username)
    return socketio.test_client(app, flask_test_client=http)


def test_a_browser_without_a_login_cannot_connect(app):
    client = socketio.test_client(app, flask_test_client=app.test_client())
    assert not client.is_connected()


def test_a_browser_follows_a_running_scan_and_gets_every_row_once(db, lab, app):
    live = browser(app, db, lab)
    assert live.is_connected()
    queue = app.extensions["pybirch.station"].add_queue(DatabaseQueue("live", db, lab_id=lab.id))
    settings, meter = iv_settings(points=500)
    handle = queue.enqueue(Scan(settings, buffer_size=25))
    assert live.emit("join", {"room": "scan", "id": handle.scan_id}, callback=True)["ok"]
    assert live.emit("join", {"room": "queue", "id": queue.db_queue_id}, callback=True)["ok"]
    assert live.emit("join", {"room": "lab", "id": lab.id}, callback=True)["ok"]
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    time.sleep(0.2)

    received = live.get_received()
    rows = [m["args"][0] for m in received if m["name"] == "data_point"]
    assert [r["first_row"] for r in rows] == list(
        np.cumsum([0] + [len(r["data"]["voltage (V)"]) for r in rows[:-1]])
    )
    voltages = np.concatenate([r["data"]["voltage (V)"] for r in rows])
    assert np.array_equal(voltages, meter.rows()[:, 0])
    statuses = [m["args"][0]["status"] for m in received if m["name"] == "scan_status"]
    assert statuses[-1] == "completed"
    assert any(m["name"] == "queue_status" for m in received)
    assert any(m["name"] == "queue_log" for m in received)


def test_catch_up_returns_the_stored_rows_from_a_row_on(db, lab, app):
    live = browser(app, db, lab)
    queue = app.extensions["pybirch.station"].add_queue(DatabaseQueue("catch", db, lab_id=lab.id))
    settings, meter = iv_settings(points=60)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    reply = live.emit(
        "catch_up",
        {"scan_id": handle.scan_id, "measurement": "Multimeter", "from_row": 45},
        callback=True,
    )
    assert reply["ok"]
    assert reply["first_row"] == 45
    assert np.array_equal(np.array(reply["columns"]["voltage (V)"]), meter.rows()[45:, 0])
    bad = live.emit(
        "catch_up",
        {"scan_id": handle.scan_id, "measurement": "Multimeter", "from_row": -1},
        callback=True,
    )
    assert not bad["ok"]


def test_rooms_of_other_labs_cannot_be_joined_or_caught_up(db, lab, app):
    live = browser(app, db, lab)
    other = db.create_lab("Other")
    secret = db.create_scan("secret", lab_id=other.id)
    their_queue = db.create_queue("theirs", lab_id=other.id)
    for room in (
        {"room": "scan", "id": secret.scan_id},
        {"room": "queue", "id": their_queue.id},
        {"room": "lab", "id": other.id},
        {"room": "scan", "id": "nope"},
    ):
        assert live.emit("join", room, callback=True) == {"ok": False, "error": "not found"}
    reply = live.emit("catch_up", {"scan_id": secret.scan_id, "measurement": "x"}, callback=True)
    assert reply == {"ok": False, "error": "not found"}


def test_joining_late_answers_with_the_latest_statuses(db, lab, app):
    queue = app.extensions["pybirch.station"].add_queue(DatabaseQueue("late", db, lab_id=lab.id))
    settings, _ = iv_settings(points=20)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    live = browser(app, db, lab)
    scan_reply = live.emit("join", {"room": "scan", "id": handle.scan_id}, callback=True)
    assert [e["payload"]["status"] for e in scan_reply["latest"]] == ["completed"]
    queue_reply = live.emit("join", {"room": "queue", "id": queue.db_queue_id}, callback=True)
    latest = {e["name"]: e["payload"] for e in queue_reply["latest"]}
    assert latest["queue_status"]["status"] == "idle"
    assert latest["scan_status"]["scan_id"] == handle.scan_id


def lab_event(live, lab) -> bool:
    """Send a lab event to the lab's room; True if ``live`` received it."""
    live.get_received()
    socketio.emit("queue_status", {"lab_id": lab.id, "status": "idle"}, to=f"lab:{lab.id}")
    return any(m["name"] == "queue_status" for m in live.get_received())


def listening(lab) -> list[str]:
    """The connections in the lab's room: those its events are delivered to."""
    return [sid for sid, _ in socketio.server.manager.get_participants("/", f"lab:{lab.id}")]


def test_a_removed_member_stops_receiving_live_events(db, lab, app):
    live = browser(app, db, lab)
    assert live.emit("join", {"room": "lab", "id": lab.id}, callback=True)["ok"]
    assert lab_event(live, lab)
    add_member(db, lab.id, "olga", Role.OWNER)
    owner = app.test_client()
    log_in(owner, "olga")
    liv = db.get_user_by_username("liv").id
    post_form(owner, f"/labs/{lab.id}/members/{liv}/remove")
    assert db.get_role(lab.id, liv) is None
    assert not live.is_connected()
    assert listening(lab) == []


def test_logging_out_ends_the_users_live_connections(db, lab, app):
    add_member(db, lab.id, "liv", Role.VIEWER)
    http = app.test_client()
    log_in(http, "liv")
    live = socketio.test_client(app, flask_test_client=http)
    other_tab = socketio.test_client(app, flask_test_client=http)
    assert live.emit("join", {"room": "lab", "id": lab.id}, callback=True)["ok"]
    http.post("/logout", data={"csrf_token": csrf_token(http, "/")})
    assert not live.is_connected()
    assert listening(lab) == []
    assert not other_tab.is_connected()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("join", None),
        ("join", "garbage"),
        ("join", ["room", "lab"]),
        ("join", {"room": "elsewhere", "id": 1}),
        ("join", {"room": "lab", "id": 2**70}),
        ("join", {"room": "queue", "id": float("inf")}),
        ("join", {"room": "queue", "id": 1.5}),
        ("join", {"room": "lab", "id": True}),
        ("join", {"room": "lab", "id": 0}),
        ("join", {"room": "scan", "id": "x" * 10_000}),
        ("join", {"room": "scan", "id": "a\x00b"}),
        ("join", {"room": "scan", "id": None}),
        ("catch_up", None),
        ("catch_up", 7),
        ("catch_up", {"scan_id": "s", "measurement": "m", "from_row": float("inf")}),
        ("catch_up", {"scan_id": "s", "measurement": "m", "from_row": 2**70}),
        ("catch_up", {"scan_id": "s", "measurement": "m", "from_row": "5"}),
        ("catch_up", {"scan_id": "s", "measurement": "m", "from_row": -1}),
        ("catch_up", {"scan_id": "s", "measurement": "m", "from_row": False}),
        ("catch_up", {"scan_id": None, "measurement": "m"}),
        ("catch_up", {"scan_id": "s", "measurement": 5}),
        ("catch_up", {"scan_id": "s"}),
    ],
)
def test_malformed_socket_messages_get_a_clear_error_reply(db, lab, app, event, message):
    live = browser(app, db, lab)
    reply = live.emit(event, message, callback=True)
    assert reply["ok"] is False
    assert reply["error"].startswith("bad request: ")
    assert live.is_connected()


def test_a_socket_event_without_a_message_gets_an_error_reply(db, lab, app):
    live = browser(app, db, lab)
    for event in ("join", "catch_up"):
        assert live.emit(event, callback=True)["error"].startswith("bad request: ")
