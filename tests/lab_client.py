"""A logged-in HTTP session and Socket.IO client of a running server, as one browser tab.

Used by the two-process tests and by benchmarks/live.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
import socketio

from pybirch.database import DatabaseService

#: Seconds a request may take: a busy machine answers slowly, not wrongly.
TIMEOUT = 60.0


class LabClient:
    """Logs in, posts forms and REST calls with the CSRF token, and records live events."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.http = requests.Session()
        page = self.http.get(f"{url}/login", timeout=TIMEOUT).text
        self.http.post(
            f"{url}/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": between(page, 'name="csrf_token" type="hidden" value="', '"'),
            },
            timeout=TIMEOUT,
        )
        self.csrf = between(
            self.http.get(f"{url}/", timeout=TIMEOUT).text, 'name="csrf-token" content="', '"'
        )
        self.socket = socketio.Client()
        self.events: list[tuple[float, str, dict]] = []
        for name in ("data_point", "scan_status", "queue_status", "queue_log"):
            self.socket.on(name, self._recorder(name))
        self.socket.connect(
            url,
            headers={"Cookie": f"session={self.http.cookies['session']}"},
            transports=["websocket"],
        )

    def _recorder(self, name: str) -> Callable[[dict], None]:
        def record(payload: dict) -> None:
            self.events.append((time.time(), name, payload))

        return record

    def join(self, room: str, key: object) -> None:
        """Join a scan's, queue's or lab's room."""
        reply = self.socket.call("join", {"room": room, "id": key}, timeout=TIMEOUT)
        assert reply["ok"], reply

    def post(self, path: str, expect_ok: bool = True) -> requests.Response:
        """POST with the CSRF header (a REST control call)."""
        response = self.http.post(
            f"{self.url}{path}", headers={"X-CSRFToken": self.csrf}, timeout=TIMEOUT
        )
        if expect_ok:
            response.raise_for_status()
        return response

    def scan(self, scan_id: str) -> dict:
        """The REST document of a scan."""
        return self.http.get(f"{self.url}/api/v1/scans/{scan_id}", timeout=TIMEOUT).json()

    def build(
        self,
        lab_id: int,
        name: str,
        points: int,
        delay: float,
        queue: str,
        start: bool,
        computer: str = "local",
    ) -> str:
        """A 1-D scan of the demo's Stage X read by the lock-in; returns its scan id."""
        form_page = self.http.get(
            f"{self.url}/builder/", params={"lab": lab_id, "computer": computer}, timeout=TIMEOUT
        ).text
        queue_field = queue_choice(form_page, queue)
        response = self.http.post(
            f"{self.url}/builder/{lab_id}",
            data={
                "csrf_token": between(form_page, 'name="csrf_token" value="', '"'),
                "computer": computer,
                "scan_name": name,
                **queue_field,
                "axis1_instrument": "Stage X",
                "axis1_start": "0",
                "axis1_stop": "100",
                "axis1_points": str(points),
                "measure": "Lock-in",
                "settings_Stage X": f'{{"delay": {delay}}}',
                "action": "start" if start else "queue",
            },
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:2000]
        return response.headers["Location"].rsplit("/", 1)[-1]

    def statuses(self, scan_id: str) -> list[tuple[float, str]]:
        """Every ``scan_status`` of one scan received so far: (time, status)."""
        return [
            (t, p["status"])
            for t, kind, p in list(self.events)
            if kind == "scan_status" and p["scan_id"] == scan_id
        ]

    def last_status(self, scan_id: str) -> str | None:
        """The last status of a scan received, or None."""
        statuses = self.statuses(scan_id)
        return statuses[-1][1] if statuses else None

    def rows(self, scan_id: str) -> list[tuple[int, int]]:
        """(first_row, row count) of every ``data_point`` of one scan received so far."""
        return [
            (p["first_row"], len(p["data"]["timestamp"]))
            for _, kind, p in list(self.events)
            if kind == "data_point" and p["scan_id"] == scan_id
        ]

    def close(self) -> None:
        """Disconnect the socket."""
        self.socket.disconnect()


def build_map(client: LabClient, lab_id: int, computer_id: int, side: int, name: str) -> str:
    """A ``side`` x ``side`` map of the demo stages read by the lock-in, started; its scan id."""
    axes = {
        "axis1_instrument": "Stage Y",
        "axis1_start": "0",
        "axis1_stop": "10",
        "axis1_points": str(side),
        "axis2_instrument": "Stage X",
        "axis2_start": "0",
        "axis2_stop": "10",
        "axis2_points": str(side),
        "measure": "Lock-in",
        "settings_Stage X": '{"delay": 0}',
    }
    return start_design(client, lab_id, computer_id, name, f"{name} queue", axes)


def start_design(
    client: LabClient, lab_id: int, computer_id: int, name: str, queue: str, fields: dict
) -> str:
    """Post the builder form with these axes and measurements and start it; its scan id."""
    page = client.http.get(
        f"{client.url}/builder/", params={"lab": lab_id, "computer": computer_id}, timeout=TIMEOUT
    ).text
    response = client.http.post(
        f"{client.url}/builder/{lab_id}",
        data={
            "csrf_token": between(page, 'name="csrf_token" value="', '"'),
            "computer": str(computer_id),
            "scan_name": name,
            **queue_choice(page, queue),
            **fields,
            "action": "start",
        },
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:3000]
    return response.headers["Location"].rsplit("/", 1)[-1]


def register_computer(
    database_url: str, url: str, password: str, name: str = "Raman PC"
) -> tuple[DatabaseService, int, int, str]:
    """The shared database, the admin's lab id, and a new computer's id and token."""
    db = DatabaseService(database_url)
    client = LabClient(url, "admin", password)
    lab_id = client.http.get(f"{url}/api/v1/labs", timeout=TIMEOUT).json()["items"][0]["id"]
    client.close()
    computer, token = db.create_computer(lab_id, name)
    return db, lab_id, computer.id, token


def agent_info(db: DatabaseService, computer_id: int) -> dict:
    """What an online agent reported about itself; empty while it is offline."""
    extra = db.get_computer(computer_id).extra_data or {}
    return extra.get("agent", {}) if extra.get("online") else {}


def queue_choice(builder_page: str, queue: str) -> dict[str, str]:
    """The builder's queue fields for ``queue``: its option if the page lists it, else a new one."""
    for option in builder_page.split('<option value="')[1:]:
        value, label = option.split('"', 1)
        if value.isdigit() and f">{queue} (" in label:
            return {"queue": value}
    return {"queue": "new", "new_queue": queue}


def agent_offers(db: DatabaseService, computer_id: int) -> set[str]:
    """Names of the instruments an online agent offers (its bound ones load after it registers)."""
    return {each["name"] for each in agent_info(db, computer_id).get("instruments", [])}


def between(text: str, start: str, end: str) -> str:
    """The text between the first ``start`` and the next ``end``."""
    return text.split(start, 1)[1].split(end, 1)[0]


def wait_for(condition: Callable[[], object], timeout: float, what: str = "") -> None:
    """Poll until ``condition()`` is true; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(0.02)


def sweep(
    client: LabClient, lab_id: int, computer_id: int, name: str, points: int, queue: str
) -> str:
    """Start a sweep of the Source-meter read by the Lock-in on a computer; its scan id."""
    axis = {
        "axis1_instrument": "Source-meter",
        "axis1_start": "0",
        "axis1_stop": "1e-6",
        "axis1_points": str(points),
        "measure": "Lock-in",
    }
    return start_design(client, lab_id, computer_id, name, queue, axis)
