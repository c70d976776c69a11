"""Two server processes share live events through Redis (REDIS_URL)."""

from __future__ import annotations

import os
import time

import pytest
import requests
import socketio

from browser_support import running_server
from pybirch.database import DatabaseService
from pybirch.demo.web_lab import LIVE_QUEUE

PASSWORD = "redis test admin password"
REDIS_URL = os.environ.get("PYBIRCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def redis_url(monkeypatch):
    if not redis_available():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    return REDIS_URL


def logged_in_session(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=10).text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = session.post(
        f"{url}/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302
    return session


def test_a_browser_on_server_b_sees_rows_of_a_scan_server_a_runs(tmp_path, redis_url):
    with (
        running_server(tmp_path, PASSWORD, demo=True) as server_a,
        running_server(tmp_path, PASSWORD) as server_b,
    ):
        runner = logged_in_session(server_a)
        watcher = logged_in_session(server_b)
        with DatabaseService(tmp_path / "pybirch.db") as db:
            (lab,) = db.search_labs().items  # the demo lab server A made
            queue = db.get_queue_with_scans(LIVE_QUEUE, lab_id=lab.id)  # runs in server A
        queue_id, scan_id = queue.id, queue.scans[-1].scan_id

        received: list[dict] = []
        client = socketio.Client()
        client.on("data_point", received.append)
        client.connect(
            server_b,
            headers={"Cookie": f"session={watcher.cookies['session']}"},
            transports=["websocket"],
        )
        try:
            assert client.call("join", {"room": "scan", "id": scan_id}, timeout=10)["ok"]
            csrf = (
                runner.get(f"{server_a}/", timeout=10)
                .text.split('name="csrf-token" content="')[1]
                .split('"')[0]
            )
            started = runner.post(
                f"{server_a}/api/queue/{queue_id}/start", headers={"X-CSRFToken": csrf}, timeout=10
            )
            assert started.status_code == 200, started.text
            deadline = time.monotonic() + 30
            while len(received) < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            runner.post(
                f"{server_a}/api/queue/{queue_id}/abort", headers={"X-CSRFToken": csrf}, timeout=10
            )
        finally:
            client.disconnect()
        # A browser joining on server B learns the state server A published last.
        late = socketio.Client()
        late.connect(
            server_b,
            headers={"Cookie": f"session={watcher.cookies['session']}"},
            transports=["websocket"],
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                reply = late.call("join", {"room": "queue", "id": queue_id}, timeout=10)
                latest = {(e["name"], e["payload"]["status"]) for e in reply["latest"]}
                wanted = {("scan_status", "aborted"), ("queue_status", "idle")}
                if wanted <= latest or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert ("scan_status", "aborted") in latest
            assert ("queue_status", "idle") in latest
        finally:
            late.disconnect()
    assert len(received) >= 3
    rows = [len(event["data"]["X (V)"]) for event in received]
    firsts = [event["first_row"] for event in received]
    assert firsts == [sum(rows[:i]) for i in range(len(rows))]  # no gap, no duplicate
