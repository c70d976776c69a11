"""Two server processes share live events through Redis (REDIS_URL)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import requests
import socketio

from browser_support import running_server
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.demo.web_lab import LIVE_QUEUE
from pybirch.web.auth.passwords import hash_password
from pybirch.web.sockets import RedisLiveConnections

PASSWORD = "redis test admin password"
MEMBER_PASSWORD = "redis test member password"


def logged_in_session(
    url: str, username: str = "admin", password: str = PASSWORD
) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=10).text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = session.post(
        f"{url}/login",
        data={"username": username, "password": password, "csrf_token": token},
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


def page_csrf(session: requests.Session, url: str) -> str:
    """The CSRF token the home page of ``url`` carries for this session."""
    page = session.get(f"{url}/", timeout=10).text
    return page.split('name="csrf-token" content="')[1].split('"')[0]


class LiveClient:
    """A browser's live connection to one server, recording every event it receives."""

    def __init__(self, url: str, http: requests.Session) -> None:
        self.events: list[tuple[str, dict]] = []
        self._changed = threading.Condition()
        # A real browser would reconnect: here a closed connection must stay closed.
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._received)
        self.client.on("disconnect", self._disconnected)
        self.client.connect(
            url,
            headers={"Cookie": f"session={http.cookies['session']}"},
            transports=["websocket"],
        )

    def join(self, room: str, key: object) -> None:
        assert self.client.call("join", {"room": room, "id": key}, timeout=10)["ok"]

    def count(self, name: str) -> int:
        with self._changed:
            return sum(1 for each, _ in self.events if each == name)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> bool:
        """Whether ``condition`` held, or came to hold as events arrived, within ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def _received(self, name: str, data: dict) -> None:
        with self._changed:
            self.events.append((name, data))
            self._changed.notify_all()

    def _disconnected(self, *_reason: object) -> None:
        with self._changed:
            self._changed.notify_all()


def test_a_member_removed_on_server_a_stops_receiving_events_on_server_b(tmp_path, redis_url):
    with (
        running_server(tmp_path, PASSWORD, demo=True) as server_a,
        running_server(tmp_path, PASSWORD) as server_b,
    ):
        with DatabaseService(tmp_path / "pybirch.db") as db:
            (lab,) = db.search_labs().items
            queue = db.get_queue_with_scans(LIVE_QUEUE, lab_id=lab.id)
            member = db.create_user("mira", password_hash=hash_password(MEMBER_PASSWORD))
            db.set_membership(lab.id, member.id, Role.VIEWER)
        queue_id, scan_id = queue.id, queue.scans[-1].scan_id
        admin = logged_in_session(server_a)
        removed = LiveClient(server_b, logged_in_session(server_b, "mira", MEMBER_PASSWORD))
        observer = LiveClient(server_b, logged_in_session(server_b))
        try:
            for live in (removed, observer):
                live.join("lab", lab.id)
                live.join("scan", scan_id)
            csrf = page_csrf(admin, server_a)
            started = admin.post(
                f"{server_a}/api/queue/{queue_id}/start", headers={"X-CSRFToken": csrf}, timeout=10
            )
            assert started.status_code == 200, started.text
            assert removed.wait_for(lambda: removed.count("data_point") >= 1)

            gone = admin.post(
                f"{server_a}/labs/{lab.id}/members/{member.id}/remove",
                data={"csrf_token": csrf},
                timeout=10,
                allow_redirects=False,
            )
            assert gone.status_code == 302, gone.text
            assert removed.wait_for(lambda: not removed.client.connected)
            seen = len(removed.events)
            observed = observer.count("data_point")
            # The scan goes on: others in its rooms still get rows, the removed member none.
            assert observer.wait_for(lambda: observer.count("data_point") >= observed + 3)
            assert len(removed.events) == seen
            assert observer.client.connected
        finally:
            admin.post(
                f"{server_a}/api/queue/{queue_id}/abort", headers={"X-CSRFToken": csrf}, timeout=10
            )
            for live in (removed, observer):
                live.client.disconnect()


def test_connections_of_a_killed_process_lapse_and_those_of_a_live_one_are_renewed(redis_url):
    import redis

    now = [1_000_000.0]
    user = random.randrange(10**9, 2 * 10**9)  # no other run's user
    key = f"pybirch:live:user:{user}"
    store = redis.Redis.from_url(redis_url)
    killed, alive = (
        RedisLiveConnections(redis_url, recorded_for=60, renew_every=3600, clock=lambda: now[0])
        for _ in range(2)
    )
    try:
        killed.add(user, "sid-of-killed")
        alive.add(user, "sid-of-alive")
        assert sorted(alive.of(user)) == ["sid-of-alive", "sid-of-killed"]
        assert 0 < store.ttl(key) <= 61  # the whole record goes if nobody renews it
        killed.close()  # from now on it renews nothing, as if killed
        now[0] += 50
        alive.renew()
        now[0] += 20
        assert alive.of(user) == ["sid-of-alive"]
        assert store.zcard(key) == 1  # the killed process's sid is gone from Redis
        alive.remove("sid-of-alive")
        assert alive.of(user) == []
    finally:
        alive.close()
        store.delete(key)
