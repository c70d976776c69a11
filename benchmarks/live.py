"""Live figures of the web server and an agent on loopback: latency, pause, hand-over, pages.

Run: ``.venv/bin/python benchmarks/live.py`` (``--quick`` for a short run, ``--only N``).

A real ``pybirch serve --demo`` process serves a throwaway database and a real
``pybirch agent --simulated`` process runs queues for it, as a lab computer would. Scans are
built with the scan builder and followed over Socket.IO, as a browser does. Each figure is
printed with its goal (issue 4) and, where one exists, a baseline measured in the same run:

1. point measured -> Socket.IO client, ~1,000 points/s: p50, p95 (goal p95 < 100 ms), and
   whether every row came exactly once; for a scan in the server and one on the agent;
2. pause over REST -> ``scan_status`` paused at the client, ~100 points/s: p95 (< 50 ms),
   in the server and on the agent; baseline: the same pause called in-process;
3. one scan completing -> the next one in the queue running (< 20 ms);
4. server time of the scans page with 10,000 scans and of the page and plot of a
   1,000,000-point scan (< 300 ms each);
5. figure 1 with 100 more sockets on the same scan (two processes of raw WebSocket
   followers: a browser parses JSON natively, python-socketio clients would measure
   themselves).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import websocket  # websocket-client, the transport of python-socketio's own client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_support import running_agent, running_server  # the tests' process launchers
from lab_client import LabClient, agent_info, register_computer, wait_for
from pybirch.database import DatabaseService, Layout
from pybirch.database.storage import ChunkData, encode

PASSWORD = "live benchmark password"
FINISHED = ("completed", "aborted", "failed")


def latency(
    client: LabClient, lab_id: int, seconds: float, rate: float, name: str, computer: str
) -> tuple[np.ndarray, bool]:
    """Per-row delay from the point's timestamp to its arrival; and whether every row came once."""
    points = int(seconds * rate)
    scan_id = client.build(lab_id, name, points, 1 / rate, f"q-{name}", False, computer)
    client.join("scan", scan_id)
    client.post(f"/api/queue/{client.scan(scan_id)['queue_id']}/start")
    wait_for(lambda: client.last_status(scan_id) in FINISHED, seconds * 3 + 30, "the scan")
    time.sleep(0.5)
    return _row_delays(client, scan_id), _complete(client.rows(scan_id), points)


def pause_latency(client: LabClient, lab_id: int, repeats: int, computer: str) -> np.ndarray:
    """Seconds from a REST pause request to the client hearing ``paused``, at ~100 points/s."""
    scan_id = client.build(
        lab_id, f"pausing {computer}", 100_000, 0.01, f"q-pause-{computer}", False, computer
    )
    client.join("scan", scan_id)
    queue_id = client.scan(scan_id)["queue_id"]
    client.post(f"/api/queue/{queue_id}/start")
    wait_for(lambda: client.last_status(scan_id) == "running", 30, "the scan to run")
    delays = []
    for _ in range(repeats):
        time.sleep(0.2)
        asked = time.time()
        client.post(f"/api/scan/{scan_id}/pause")
        wait_for(lambda: client.last_status(scan_id) == "paused", 10, "the pause")
        delays.append(_status_time(client, scan_id, "paused") - asked)
        client.post(f"/api/scan/{scan_id}/resume")
        wait_for(lambda: client.last_status(scan_id) == "running", 10, "the resume")
    client.post(f"/api/queue/{queue_id}/abort")
    return np.array(delays)


def in_process_pause(repeats: int) -> np.ndarray:
    """Baseline: the same queue and scan, paused by a call in this process."""
    from pybirch.demo.web_lab import demo_instruments
    from pybirch.instruments.catalogue import InstrumentSet
    from pybirch.queue import Queue, ScanState
    from pybirch.scan import Scan
    from pybirch.scan.design import Axis, ScanDesign, build_settings

    instruments = InstrumentSet(*demo_instruments())
    design = ScanDesign("baseline", "", [Axis("Stage X", 0, 100, 100_000)], ["Lock-in"])
    design.settings["Stage X"] = {"delay": 0.01}
    queue = Queue("baseline")
    handle = queue.enqueue(Scan(build_settings(design, instruments)))
    queue.start()
    handle.scan.wait_for_state(ScanState.RUNNING, timeout=10)
    delays = []
    for _ in range(repeats):
        time.sleep(0.2)
        asked = time.perf_counter()
        queue.pause_scan(handle.scan_id)
        handle.scan.wait_for_state(ScanState.PAUSED, timeout=10)
        delays.append(time.perf_counter() - asked)
        queue.resume_scan(handle.scan_id)
        handle.scan.wait_for_state(ScanState.RUNNING, timeout=10)
    queue.abort()
    queue.wait_for_completion(30)
    return np.array(delays)


def hand_over(client: LabClient, lab_id: int, scans: int) -> np.ndarray:
    """Seconds from one scan's ``completed`` to the next one's ``running``, in one queue."""
    ids = [client.build(lab_id, f"short {i}", 20, 0.0, "q-chain", False) for i in range(scans)]
    for scan_id in ids:
        client.join("scan", scan_id)
    client.post(f"/api/queue/{client.scan(ids[0])['queue_id']}/start")
    wait_for(lambda: client.last_status(ids[-1]) == "completed", 60, "the last scan")
    return np.array(
        [
            _status_time(client, later, "running") - _status_time(client, earlier, "completed")
            for earlier, later in itertools.pairwise(ids)
        ]
    )


def page_times(client: LabClient, folder: Path, lab_id: int) -> tuple[float, float, float]:
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
            response = client.http.get(f"{client.url}{path}", timeout=60)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
        return statistics.median(samples)

    return (
        timed(f"/scans/?lab={lab_id}"),
        timed(f"/scans/{big.scan_id}"),
        timed(f"/api/v1/scans/{big.scan_id}/plot/Lock-in"),
    )


class Follower(threading.Thread):
    """One browser tab's socket, minimal: Engine.IO v4 over a raw WebSocket, JSON parsed once."""

    def __init__(self, url: str, cookie: str, scan_id: str) -> None:
        super().__init__(daemon=True)
        endpoint = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            endpoint, cookie=f"session={cookie}", timeout=60, skip_utf8_validation=True
        )
        self.ws.recv()  # the Engine.IO open packet
        self.ws.send("40")
        assert self.ws.recv().startswith("40"), "the server refused the socket"
        self.ws.send("420" + json.dumps(["join", {"room": "scan", "id": scan_id}]))
        assert '"ok":true' in self.ws.recv().replace(" ", ""), "the join was refused"
        self.rows: list[tuple[float, int, list[float]]] = []

    def run(self) -> None:
        while True:
            message = self.ws.recv()
            received = time.time()
            if message == "2":
                self.ws.send("3")  # Engine.IO ping -> pong
            elif message.startswith("42"):
                name, payload = json.loads(message[2:])
                if name == "data_point":
                    timestamps = payload["data"]["timestamp"]
                    self.rows.append((received, payload["first_row"], timestamps))
                elif name == "scan_status" and payload["status"] in FINISHED:
                    return


def _follow(url: str, cookie: str, scan_id: str, count: int, ready, results) -> None:
    """In a child process: ``count`` followers of one scan; reports delays and completeness."""
    followers = [Follower(url, cookie, scan_id) for _ in range(count)]
    for each in followers:
        each.start()
    ready.put(count)
    for each in followers:
        each.join(timeout=600)
    delays = [r - np.array(t) for each in followers for r, _, t in each.rows]
    complete = [_complete([(f, len(t)) for _, f, t in each.rows], None) for each in followers]
    results.put((np.concatenate(delays).tolist() if delays else [], complete))


def crowd_latency(
    client: LabClient, lab_id: int, seconds: float, sockets: int
) -> tuple[np.ndarray, bool]:
    """Figure 1 again while ``sockets`` more sockets follow the same scan."""
    points = int(seconds * 1000)
    scan_id = client.build(lab_id, "crowd", points, 0.001, "q-crowd", False)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    cookie = client.http.cookies["session"]
    halves = (sockets // 2, sockets - sockets // 2)
    children = [
        context.Process(target=_follow, args=(client.url, cookie, scan_id, n, ready, results))
        for n in halves
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=120)
    client.join("scan", scan_id)
    client.post(f"/api/queue/{client.scan(scan_id)['queue_id']}/start")
    wait_for(lambda: client.last_status(scan_id) in FINISHED, seconds * 5 + 60, "the scan")
    reports = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join()
    delays = np.concatenate([_row_delays(client, scan_id)] + [np.array(d) for d, _ in reports])
    complete = _complete(client.rows(scan_id), points) and all(
        ok for _, flags in reports for ok in flags
    )
    return delays, complete


def _status_time(client: LabClient, scan_id: str, status: str) -> float:
    return [t for t, s in client.statuses(scan_id) if s == status][-1]


def _row_delays(client: LabClient, scan_id: str) -> np.ndarray:
    parts = [
        received - np.array(p["data"]["timestamp"])
        for received, kind, p in list(client.events)
        if kind == "data_point" and p["scan_id"] == scan_id
    ]
    return np.concatenate(parts) if parts else np.array([])


def _complete(rows: list[tuple[int, int]], points: int | None) -> bool:
    """Whether (first_row, count) pieces cover rows 0.. once, in order (all ``points``)."""
    contiguous = bool(rows) and rows[0][0] == 0
    contiguous = contiguous and all(a + n == b for (a, n), (b, _) in itertools.pairwise(rows))
    return contiguous and (points is None or sum(n for _, n in rows) == points)


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
    repeats = 10 if options.quick else 30
    folder = Path(tempfile.mkdtemp(prefix="pybirch-live-"))
    agent_dir = folder / "agent"
    agent_dir.mkdir()
    os.environ["PYBIRCH_DATA_DIR"] = str(folder)
    database_url = f"sqlite:///{folder / 'pybirch.db'}"
    # Every open WebSocket holds a server thread: room for 100 listeners and the requests.
    with running_server(folder, PASSWORD, demo=True, threads=160) as url:
        db, lab_id, computer_id, token = register_computer(database_url, url, PASSWORD)
        with running_agent(agent_dir, url, token, database_url):
            wait_for(lambda: agent_info(db, computer_id), 30, "the agent to register")
            client = LabClient(url, "admin", PASSWORD)
            agent = str(computer_id)
            if 1 in wanted:
                for where, computer in (("server", "local"), ("agent", agent)):
                    delays, complete = latency(
                        client, lab_id, seconds, 1000, f"latency-{where}", computer
                    )
                    print(
                        f"1  point -> client, ~1,000 points/s for {seconds} s, scan in the "
                        f"{where}: p50 {_ms(delays, 50)}, p95 {_ms(delays, 95)}, every row "
                        f"once: {complete}  (goal: p95 < 100 ms)"
                    )
            if 2 in wanted:
                baseline = in_process_pause(repeats)
                for where, computer in (("server", "local"), ("agent", agent)):
                    pauses = pause_latency(client, lab_id, repeats, computer)
                    print(
                        f"2  pause over REST -> paused at the client, ~100 points/s, scan in "
                        f"the {where}: p50 {_ms(pauses, 50)}, p95 {_ms(pauses, 95)}  "
                        f"(goal: p95 < 50 ms; in-process call p95 {_ms(baseline, 95)}; "
                        f"Bluesky's queue server ~800 ms)"
                    )
            if 3 in wanted:
                gaps = hand_over(client, lab_id, 6 if options.quick else 20)
                print(
                    f"3  scan completed -> next scan running: p50 {_ms(gaps, 50)}, "
                    f"p95 {_ms(gaps, 95)}  (goal: < 20 ms)"
                )
            if 4 in wanted:
                listing, big_page, big_plot = page_times(client, folder, lab_id)
                print(
                    f"4  scans page with 10,000 scans: {1000 * listing:.0f} ms; "
                    f"1,000,000-point scan: page {1000 * big_page:.0f} ms, "
                    f"plot {1000 * big_plot:.0f} ms  (goal: < 300 ms each)"
                )
            if 5 in wanted:
                crowd, complete = crowd_latency(client, lab_id, seconds / 2, 100)
                print(
                    f"5  with 100 more sockets on one scan: p50 {_ms(crowd, 50)}, "
                    f"p95 {_ms(crowd, 95)}, every row once at every socket: {complete}  "
                    f"(goal: p95 < 100 ms)"
                )
            client.close()
        db.close()


if __name__ == "__main__":
    main()
