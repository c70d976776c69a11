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
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import socketio

from pybirch.database import DatabaseService, Layout
from pybirch.database.storage import ChunkData, encode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_support import running_server  # the tests' server launcher

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


def pause_latency(browser: Browser, lab_id: int, repeats: int) -> np.ndarray:
    """Seconds from a REST pause request to the client hearing ``paused``, at ~100 points/s."""
    scan_id = browser.build(lab_id, "pausing", 100_000, 0.01, "q-pause", start=False)
    browser.join("scan", scan_id)
    queue_id = _scan(browser, scan_id)["queue_id"]
    browser.post(f"/api/queue/{queue_id}/start")
    _wait(lambda: _last_status(browser, scan_id) == "running", 30)
    delays = []
    for _ in range(repeats):
        time.sleep(0.2)
        asked = time.time()
        browser.post(f"/api/scan/{scan_id}/pause")
        _wait(lambda: _last_status(browser, scan_id) == "paused", 10)
        delays.append(_status_time(browser, scan_id, "paused") - asked)
        browser.post(f"/api/scan/{scan_id}/resume")
        _wait(lambda: _last_status(browser, scan_id) == "running", 10)
    browser.post(f"/api/queue/{queue_id}/abort")
    return np.array(delays)


def hand_over(browser: Browser, lab_id: int, scans: int) -> np.ndarray:
    """Seconds from one scan's ``completed`` to the next one's ``running``, in one queue."""
    ids = [
        browser.build(lab_id, f"short {i}", 20, 0.0, "q-chain", start=False) for i in range(scans)
    ]
    for scan_id in ids:
        browser.join("scan", scan_id)
    browser.post(f"/api/queue/{_scan(browser, ids[0])['queue_id']}/start")
    _wait(lambda: _last_status(browser, ids[-1]) == "completed", 60)
    gaps = [
        _status_time(browser, later, "running") - _status_time(browser, earlier, "completed")
        for earlier, later in itertools.pairwise(ids)
    ]
    return np.array(gaps)


def page_times(browser: Browser, folder: Path, lab_id: int) -> tuple[float, float, float]:
    """Median seconds: the scans page (10,000 scans), a 1,000,000-point scan's page and plot."""
    with DatabaseService(folder / "pybirch.db") as db:
        for i in range(10_000 - db.search_scans(lab_id=lab_id, per_page=1).total):
            db.create_scan(f"archived {i}", lab_id=lab_id, status="completed", project_name="Demo")
        big = db.create_scan("a million points", lab_id=lab_id, status="completed")
        layout = Layout.build(["X (V)"], ["x (mm)"])
        measurement = db.create_measurement_object(big.id, "Lock-in", layout)
        rng = np.random.default_rng(0)
        for start in range(0, 1_000_000, 50_000):
            n = 50_000
            columns = [
                rng.normal(size=n),
                np.linspace(0, 100, 1_000_000)[start : start + n],
                time.time() + np.arange(n) * 1e-4,
            ]
            db.store_chunks(
                measurement.id, [encode(ChunkData(start, start, columns, n, n), layout)]
            )

    def timed(path: str) -> float:
        samples = []
        for _ in range(7):
            started = time.perf_counter()
            response = browser.http.get(f"{browser.url}{path}", timeout=60)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
        return statistics.median(samples)

    return (
        timed(f"/scans/?lab={lab_id}"),
        timed(f"/scans/{big.scan_id}"),
        timed(f"/api/v1/scans/{big.scan_id}/plot/Lock-in"),
    )


def crowd_latency(
    url: str, browser: Browser, lab_id: int, seconds: float, sockets: int
) -> tuple[np.ndarray, bool]:
    """Figure 1 again while ``sockets`` more clients follow the same scan."""
    scan_id = browser.build(lab_id, "crowd", int(seconds * 1000), 0.001, "q-crowd", start=False)
    crowd = [Browser(url) for _ in range(sockets)]
    for each in crowd:
        each.join("scan", scan_id)
    browser.join("scan", scan_id)
    browser.events.clear()
    browser.post(f"/api/queue/{_scan(browser, scan_id)['queue_id']}/start")
    _wait(lambda: _last_status(browser, scan_id) == "completed", seconds * 3 + 60)
    time.sleep(1)
    delays = np.concatenate([_row_delays(each, scan_id) for each in (browser, *crowd)])
    complete = all(_rows_complete(each, scan_id, int(seconds * 1000)) for each in (browser, *crowd))
    for each in crowd:
        each.close()
    return delays, complete


def _scan(browser: Browser, scan_id: str) -> dict:
    return browser.http.get(f"{browser.url}/api/v1/scans/{scan_id}", timeout=10).json()


def _statuses(browser: Browser, scan_id: str) -> list[tuple[float, str]]:
    return [
        (t, p["status"])
        for t, kind, p in list(browser.events)
        if kind == "scan_status" and p["scan_id"] == scan_id
    ]


def _last_status(browser: Browser, scan_id: str) -> str | None:
    statuses = _statuses(browser, scan_id)
    return statuses[-1][1] if statuses else None


def _status_time(browser: Browser, scan_id: str, status: str) -> float:
    return [t for t, s in _statuses(browser, scan_id) if s == status][-1]


def _row_delays(browser: Browser, scan_id: str) -> np.ndarray:
    parts = [
        received - np.array(p["data"]["timestamp"])
        for received, kind, p in list(browser.events)
        if kind == "data_point" and p["scan_id"] == scan_id
    ]
    return np.concatenate(parts) if parts else np.array([])


def _rows_complete(browser: Browser, scan_id: str, points: int) -> bool:
    rows = [
        (p["first_row"], len(p["data"]["timestamp"]))
        for _, kind, p in list(browser.events)
        if kind == "data_point" and p["scan_id"] == scan_id
    ]
    return [f for f, _ in rows] == list(np.cumsum([0] + [n for _, n in rows[:-1]])) and sum(
        n for _, n in rows
    ) == points


def _ms(values: np.ndarray, q: float) -> str:
    return f"{1000 * np.percentile(values, q):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s, fewer repeats")
    parser.add_argument(
        "--only", type=int, action="append", choices=range(1, 6), help="run only this figure"
    )
    options = parser.parse_args()
    wanted = set(options.only or range(1, 6))
    seconds = 10 if options.quick else 60
    folder = Path(tempfile.mkdtemp(prefix="pybirch-live-"))
    os.environ["PYBIRCH_DATA_DIR"] = str(folder)
    # Every open WebSocket holds a server thread: room for 100 listeners and the requests.
    with running_server(folder, PASSWORD, demo=True, threads=160) as url:
        browser = Browser(url)
        lab_id = browser.http.get(f"{url}/api/v1/labs", timeout=10).json()["items"][0]["id"]
        if 1 in wanted:
            delays, complete = latency(browser, lab_id, seconds, 1000, "latency")
            print(
                f"1  point -> client, ~1,000 points/s for {seconds} s: p50 {_ms(delays, 50)}, "
                f"p95 {_ms(delays, 95)}, every row once: {complete}  (goal: p95 < 100 ms)"
            )
        if 2 in wanted:
            pauses = pause_latency(browser, lab_id, 10 if options.quick else 30)
            print(
                f"2  pause over REST -> paused at the client, ~100 points/s: "
                f"p50 {_ms(pauses, 50)}, p95 {_ms(pauses, 95)}  "
                f"(goal: p95 < 50 ms; Bluesky's queue server ~800 ms)"
            )
        if 3 in wanted:
            gaps = hand_over(browser, lab_id, 6 if options.quick else 20)
            print(
                f"3  scan completed -> next scan running: p50 {_ms(gaps, 50)}, "
                f"p95 {_ms(gaps, 95)}  (goal: < 20 ms)"
            )
        if 4 in wanted:
            listing, big_page, big_plot = page_times(browser, folder, lab_id)
            print(
                f"4  scans page with 10,000 scans: {1000 * listing:.0f} ms; "
                f"1,000,000-point scan: page {1000 * big_page:.0f} ms, "
                f"plot {1000 * big_plot:.0f} ms  (goal: < 300 ms each)"
            )
        if 5 in wanted:
            crowd, complete = crowd_latency(url, browser, lab_id, seconds / 2, 100)
            print(
                f"5  with 100 sockets on one scan: p50 {_ms(crowd, 50)}, p95 {_ms(crowd, 95)}, "
                f"every row once at every socket: {complete}  (goal: p95 < 100 ms)"
            )
        browser.close()


if __name__ == "__main__":
    main()
