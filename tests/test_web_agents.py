"""The server's side of the agents: token on connect, registration, relayed events, presence."""

from __future__ import annotations

import logging
import random
import threading

import pytest

from pybirch.database.models import Role
from pybirch.database_integration.managers.equipment_manager import describe_instrument
from pybirch.realtime.agent_protocol import AGENT_NAMESPACE
from pybirch.web.agents import ReorderBuffer
from pybirch.web.sockets import socketio
from web_support import add_member, csrf_token, log_in, make_app

INSTRUMENTS = [
    {"name": "Stage X", "kind": "movement", "type": "FakeStage", "position_units": "mm"},
    {"name": "Lock-in", "kind": "measurement", "type": "FakeLockin", "columns": ["X (V)"]},
]


@pytest.fixture
def lab(db):
    return db.create_lab("Agent Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    yield app
    app.extensions["pybirch.station"].close()


def agent_client(app, token: str | None):
    auth = None if token is None else {"token": token}
    return socketio.test_client(app, namespace=AGENT_NAMESPACE, auth=auth)


def register(client) -> dict:
    return client.emit(
        "register",
        {"computer": {"hostname": "raman-pc", "platform": "Linux"}, "instruments": INSTRUMENTS},
        namespace=AGENT_NAMESPACE,
        callback=True,
    )


def browser(app, db, lab, username: str = "watcher"):
    add_member(db, lab.id, username, Role.VIEWER)
    http = app.test_client()
    log_in(http, username)
    return socketio.test_client(app, flask_test_client=http)


def test_an_agent_needs_a_computer_token(db, lab, app):
    assert not agent_client(app, None).is_connected(AGENT_NAMESPACE)
    assert not agent_client(app, "pbc_not-a-token").is_connected(AGENT_NAMESPACE)
    _, token = db.create_computer(lab.id, "Raman PC")
    assert agent_client(app, token).is_connected(AGENT_NAMESPACE)


def test_a_logged_in_browser_is_not_an_agent(db, lab, app):
    add_member(db, lab.id, "sneaky", Role.ADMIN)
    http = app.test_client()
    log_in(http, "sneaky")
    client = socketio.test_client(app, namespace=AGENT_NAMESPACE, flask_test_client=http)
    assert not client.is_connected(AGENT_NAMESPACE)


def test_registration_records_presence_and_instruments_until_disconnect(db, lab, app):
    computer, token = db.create_computer(lab.id, "Raman PC")
    client = agent_client(app, token)
    reply = register(client)
    assert reply == {"ok": True, "computer_id": computer.id, "lab_id": lab.id, "name": "Raman PC"}
    stored = db.get_computer(computer.id)
    assert stored.extra_data["online"] is True
    assert [i["name"] for i in stored.extra_data["agent"]["instruments"]] == ["Stage X", "Lock-in"]
    assert stored.platform == "Linux"
    client.disconnect(namespace=AGENT_NAMESPACE)
    assert db.get_computer(computer.id).extra_data["online"] is False


def test_a_bad_registration_is_refused_and_changes_nothing(db, lab, app):
    computer, token = db.create_computer(lab.id, "Raman PC")
    client = agent_client(app, token)
    reply = client.emit(
        "register",
        {"instruments": [{"kind": "movement"}]},
        namespace=AGENT_NAMESPACE,
        callback=True,
    )
    assert reply["ok"] is False
    assert "bad registration" in reply["error"]
    assert not (db.get_computer(computer.id).extra_data or {}).get("online")


def test_events_of_the_agents_lab_reach_the_browsers_and_others_are_dropped(db, lab, app):
    other_lab = db.create_lab("Other Lab")
    ours = db.create_scan("ours", lab_id=lab.id, status="running")
    theirs = db.create_scan("theirs", lab_id=other_lab.id, status="running")
    _, token = db.create_computer(lab.id, "Raman PC")
    agent = agent_client(app, token)
    register(agent)
    watcher = browser(app, db, lab)
    assert watcher.emit("join", {"room": "scan", "id": ours.scan_id}, callback=True)["ok"]

    def status(scan_id: str) -> dict:
        payload = {"scan_id": scan_id, "status": "paused", "progress": 0.5, "lab_id": other_lab.id}
        return {"name": "scan_status", "payload": payload}

    agent.emit("event", status(ours.scan_id), namespace=AGENT_NAMESPACE)
    agent.emit("event", status(theirs.scan_id), namespace=AGENT_NAMESPACE)
    agent.emit("event", {"name": "not_an_event", "payload": {}}, namespace=AGENT_NAMESPACE)
    agent.emit("event", {"name": "scan_status", "payload": {"x": 1}}, namespace=AGENT_NAMESPACE)
    received = [m["args"][0] for m in watcher.get_received() if m["name"] == "scan_status"]
    assert received == [
        {
            **status(ours.scan_id)["payload"],
            "lab_id": lab.id,
            "queue_id": None,
            "timestamp": received[0]["timestamp"],
            "message": None,
        }
    ]


def test_control_of_a_queue_whose_computer_is_offline_is_refused(db, lab, app):
    computer, _ = db.create_computer(lab.id, "Raman PC")
    queue = db.create_queue("far away", lab_id=lab.id, extra_data={"computer_id": computer.id})
    add_member(db, lab.id, "mia", Role.MEMBER)
    http = app.test_client()
    log_in(http, "mia")

    token = csrf_token(http, "/")
    response = http.post(f"/api/queue/{queue.id}/pause", headers={"X-CSRFToken": token})
    assert response.status_code == 409
    assert "not connected" in response.get_json()["error"]["message"]


def test_a_gone_agents_instruments_are_offline_in_the_database_and_live(db, lab, app):
    from pybirch.demo.web_lab import demo_instruments

    stage = next(i for i in demo_instruments() if i.name == "Stage X")
    computer, token = db.create_computer(lab.id, "Raman PC")
    record = db.register_instrument_on_computer(describe_instrument(stage), lab.id, computer.id)
    db.update_instrument_status(record.id, "connected")
    agent = agent_client(app, token)
    register(agent)
    watcher = browser(app, db, lab)
    assert watcher.emit("join", {"room": "lab", "id": lab.id}, callback=True)["ok"]
    agent.disconnect(namespace=AGENT_NAMESPACE)
    assert db.get_instrument(record.id).status == "offline"
    statuses = [m["args"][0] for m in watcher.get_received() if m["name"] == "instrument_status"]
    assert {(s["instrument"], s["status"]) for s in statuses} == {
        ("Stage X", "offline"),
        ("Lock-in", "offline"),
    }


def test_a_gone_agent_takes_only_its_own_lock_in_offline(db, lab, app):
    lockin = {"name": "Lock-in", "instrument_type": "measurement"}
    raman, raman_token = db.create_computer(lab.id, "Raman PC")
    cryo, cryo_token = db.create_computer(lab.id, "Cryo PC")
    ours = db.register_instrument_on_computer(lockin, lab.id, raman.id)
    theirs = db.register_instrument_on_computer(lockin, lab.id, cryo.id)
    servers = db.register_instrument(lockin, lab.id)  # the server's own, on no agent
    assert len({ours.id, theirs.id, servers.id}) == 3
    for record in (ours, theirs, servers):
        db.update_instrument_status(record.id, "connected")
    raman_agent, cryo_agent = agent_client(app, raman_token), agent_client(app, cryo_token)
    register(raman_agent)
    register(cryo_agent)

    raman_agent.disconnect(namespace=AGENT_NAMESPACE)

    assert db.get_instrument(ours.id).status == "offline"
    assert db.get_instrument(theirs.id).status == "connected"
    assert db.get_instrument(servers.id).status == "connected"
    assert [h.status for h in db.get_instrument_status_history(theirs.id)] == ["connected"]
    assert cryo_agent.is_connected(AGENT_NAMESPACE)


def test_a_new_token_disconnects_the_agent_and_the_old_token_is_refused(db, lab, app):
    computer, token = db.create_computer(lab.id, "Raman PC")
    agent = agent_client(app, token)
    register(agent)
    add_member(db, lab.id, "boss", Role.ADMIN)
    http = app.test_client()
    log_in(http, "boss")
    response = http.post(
        f"/computers/{computer.id}/token", data={"csrf_token": csrf_token(http, "/computers/")}
    )
    assert response.status_code == 302
    assert not agent.is_connected(AGENT_NAMESPACE)
    assert db.get_computer(computer.id).extra_data["online"] is False
    assert not agent_client(app, token).is_connected(AGENT_NAMESPACE)


def scan_status(scan_id: str, status: str, seq: int | None = None) -> dict:
    """An agent's ``event`` message about a scan's status, numbered ``seq`` if given."""
    message = {
        "name": "scan_status",
        "payload": {"scan_id": scan_id, "status": status, "progress": 0},
    }
    return message if seq is None else {**message, "seq": seq}


def statuses(watcher) -> list[str]:
    return [m["args"][0]["status"] for m in watcher.get_received() if m["name"] == "scan_status"]


def agent_and_watcher(db, lab, app, scan):
    """A registered agent of the lab and a browser following ``scan``, its inbox empty."""
    _, token = db.create_computer(lab.id, "Raman PC")
    agent = agent_client(app, token)
    register(agent)
    watcher = browser(app, db, lab)
    assert watcher.emit("join", {"room": "scan", "id": scan.scan_id}, callback=True)["ok"]
    watcher.get_received()
    return token, agent, watcher


def test_an_agents_events_reach_the_browsers_in_the_order_it_sent_them(db, lab, app):
    scan = db.create_scan("ordered", lab_id=lab.id, status="running")
    token, agent, watcher = agent_and_watcher(db, lab, app, scan)

    # The server handled them in this order (each message runs in its own thread).
    for seq, status in [(1, "paused"), (3, "completed"), (0, "running"), (2, "running")]:
        agent.emit("event", scan_status(scan.scan_id, status, seq), namespace=AGENT_NAMESPACE)
    assert statuses(watcher) == ["running", "paused", "running", "completed"]

    # An agent from before numbering: its events go out as they come.
    agent.emit("event", scan_status(scan.scan_id, "aborted"), namespace=AGENT_NAMESPACE)
    assert statuses(watcher) == ["aborted"]

    # A new connection starts a new sequence.
    agent.disconnect(namespace=AGENT_NAMESPACE)
    again = agent_client(app, token)
    register(again)
    again.emit("event", scan_status(scan.scan_id, "running", 0), namespace=AGENT_NAMESPACE)
    assert statuses(watcher) == ["running"]


def test_an_event_the_server_drops_does_not_hold_back_the_next(db, lab, app):
    scan = db.create_scan("dropped", lab_id=lab.id, status="running")
    _, agent, watcher = agent_and_watcher(db, lab, app, scan)
    bad = {"name": "not_an_event", "payload": {}, "seq": 0}
    agent.emit("event", bad, namespace=AGENT_NAMESPACE)
    agent.emit("event", scan_status(scan.scan_id, "paused", 1), namespace=AGENT_NAMESPACE)
    assert statuses(watcher) == ["paused"]


@pytest.mark.parametrize("seq", [-1, 1.5, True, "3", 2**70])
def test_an_event_with_a_bad_number_is_dropped(db, lab, app, seq):
    scan = db.create_scan("bad number", lab_id=lab.id, status="running")
    _, agent, watcher = agent_and_watcher(db, lab, app, scan)
    message = {**scan_status(scan.scan_id, "paused"), "seq": seq}
    agent.emit("event", message, namespace=AGENT_NAMESPACE)
    agent.emit("event", scan_status(scan.scan_id, "running", 0), namespace=AGENT_NAMESPACE)
    assert statuses(watcher) == ["running"]


def test_numbered_items_from_many_threads_are_released_in_order():
    released: list[int] = []
    buffer = ReorderBuffer(released.append, "test agent", window=10_000, wait=600)
    numbers = list(range(5_000))
    random.Random(9).shuffle(numbers)
    start = threading.Barrier(8)

    def deliver(share: list[int]) -> None:
        start.wait()
        for number in share:
            buffer.accept(number, number)

    threads = [threading.Thread(target=deliver, args=(numbers[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert released == list(range(5_000))


def test_a_gap_is_skipped_once_too_many_items_wait_behind_it(caplog):
    released: list[int] = []
    buffer = ReorderBuffer(released.append, "agent of Raman PC", window=3, wait=600)
    with caplog.at_level(logging.WARNING, logger="pybirch.web.agents"):
        for number in (0, 2, 3, 4):
            buffer.accept(number, number)
        assert released == [0]
        buffer.accept(5, 5)
        assert released == [0, 2, 3, 4, 5]
        buffer.accept(1, 1)  # too late: the browsers have seen what came after it
        assert released == [0, 2, 3, 4, 5]
    assert "agent of Raman PC" in caplog.text
    assert "event 1 never arrived" in caplog.text
    assert "event 1 arrived after" in caplog.text


def test_a_gap_is_skipped_after_a_while_even_if_nothing_more_comes():
    released: list[int] = []
    done = threading.Event()

    def release(number: int) -> None:
        released.append(number)
        if number == 2:
            done.set()

    buffer = ReorderBuffer(release, "test agent", window=1_000, wait=0.2)
    buffer.accept(0, 0)
    buffer.accept(2, 2)
    assert done.wait(timeout=30)
    assert released == [0, 2]


def test_numbers_without_an_item_count_and_closing_releases_what_waits():
    released: list[str] = []
    buffer = ReorderBuffer(released.append, "test agent", window=1_000, wait=600)
    buffer.accept(0, None)  # an event the server dropped still takes its turn
    buffer.accept(1, "b")
    buffer.accept(4, "e")
    buffer.accept(3, "d")
    assert released == ["b"]
    buffer.close()
    assert released == ["b", "d", "e"]
