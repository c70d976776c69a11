"""An agent's instrument status changes reach its lab's browsers, and no other lab's."""

from __future__ import annotations

import pytest

from pybirch.database.models import Role
from pybirch.realtime.agent_protocol import AGENT_NAMESPACE
from pybirch.web.sockets import socketio
from web_support import add_member, log_in, make_app


@pytest.fixture
def app(db):
    app = make_app(db)
    yield app
    app.extensions["pybirch.station"].close()


def watcher(app, db, lab_id: int, username: str):
    add_member(db, lab_id, username, Role.VIEWER)
    http = app.test_client()
    log_in(http, username)
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("join", {"room": "lab", "id": lab_id}, callback=True)["ok"]
    return client


def test_an_agents_instrument_status_reaches_its_lab_with_its_error(db, app):
    lab, other = db.create_lab("Optics"), db.create_lab("Magnetism")
    _, token = db.create_computer(lab.id, "Raman PC")
    ours, theirs = watcher(app, db, lab.id, "ours"), watcher(app, db, other.id, "theirs")
    agent = socketio.test_client(app, namespace=AGENT_NAMESPACE, auth={"token": token})
    registered = agent.emit(
        "register",
        {"computer": {"hostname": "raman-pc"}, "instruments": [], "queues": []},
        namespace=AGENT_NAMESPACE,
        callback=True,
    )
    assert registered["ok"], registered
    change = {
        "instrument": "Lock-in",
        "status": "disconnected",
        "computer": "Raman PC",
        "lab_id": other.id,  # a lie: the server puts the agent's own lab
        "error": "VI_ERROR_CONN_LOST",
        "instrument_id": 12,
    }
    agent.emit("event", {"name": "instrument_status", "payload": change}, namespace=AGENT_NAMESPACE)

    received = [m["args"][0] for m in ours.get_received() if m["name"] == "instrument_status"]
    assert [(r["instrument"], r["status"], r["error"], r["lab_id"]) for r in received] == [
        ("Lock-in", "disconnected", "VI_ERROR_CONN_LOST", lab.id)
    ]
    assert not [m for m in theirs.get_received() if m["name"] == "instrument_status"]
