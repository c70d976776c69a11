"""Login under a burst of wrong passwords: bounded server memory, unknown names cost the same.

Run: ``.venv/bin/python benchmarks/login.py``

A real ``pybirch serve`` process (gunicorn, one worker, 100 threads, as in production) on a
throwaway SQLite database is sent, from this machine's one address:

1. sequential wrong passwords for a known and for unknown user names: median latency;
2. 100 concurrent wrong passwords for one user, then for 100 different names.

Step 2 runs twice: with the default throttles (5 failures per name, 20 per address), and
with the throttles lifted so that all 100 reach the password check and only the bound on
concurrent argon2 hashes (``PASSWORD_HASH_CONCURRENCY``, ``PASSWORD_HASH_WAITING``)
stands between them and the server's memory. Baselines measured in the same run: the
worker's resident memory at idle, one argon2 hash on this machine, and the memory one
hash needs (argon2-cffi's parameters). Peak memory is the worker's ``VmHWM``. Nothing is
asserted: the figures are printed.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_support import free_port  # the tests' helper

ADMIN_PASSWORD = "benchmark admin password"
BURST = 100
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@contextmanager
def server(data_dir: Path, **env: str) -> Iterator[tuple[str, int]]:
    """``pybirch serve`` with ``env``; yields its URL and the pid of its worker."""
    port = free_port()
    environment = {**os.environ, "PYBIRCH_DATA_DIR": str(data_dir), **env}
    environment.pop("DATABASE_URL", None)
    log = (data_dir / "server.log").open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "pybirch", "serve", "--port", str(port), "--threads", "100",
         "--admin-password", ADMIN_PASSWORD],
        env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{url}/login", timeout=5)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield url, _worker_of(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _worker_of(master: int) -> int:
    """The gunicorn worker: the master's child process."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                return int(entry.name)
    raise RuntimeError("no gunicorn worker found")


def memory_mib(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def prepared_login(url: str, username: str, password: str):
    """A browser that has the login page (cookie, CSRF token); calling it posts the form."""
    browser = requests.Session()
    token = _CSRF.search(browser.get(f"{url}/login", timeout=30).text).group(1)
    data = {"username": username, "password": password, "csrf_token": token}

    def post() -> tuple[int, float]:
        started = time.perf_counter()
        response = browser.post(f"{url}/login", data=data, allow_redirects=False, timeout=120)
        return response.status_code, time.perf_counter() - started

    return post


def burst(url: str, names: list[str]) -> tuple[Counter[int], float]:
    """Post one wrong password per name, all at once; status counts and the slowest answer."""
    logins = [prepared_login(url, name, "wrong password") for name in names]
    barrier = threading.Barrier(len(logins))
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def run(login) -> None:
        barrier.wait()
        result = login()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(login,)) for login in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(status for status, _ in results), max(seconds for _, seconds in results)


def median_latency(url: str, names: list[str]) -> float:
    """Median time of a wrong password, one login after the other, in milliseconds."""
    return 1000 * statistics.median(prepared_login(url, n, "wrong password")()[1] for n in names)


def statuses(counts: Counter[int]) -> str:
    return ", ".join(f"{count}x{status}" for status, count in sorted(counts.items()))


def main() -> None:
    hasher = PasswordHasher()
    stored = hasher.hash(ADMIN_PASSWORD)
    started = time.perf_counter()
    for _ in range(5):
        hasher.verify(stored, ADMIN_PASSWORD)
    hash_ms = (time.perf_counter() - started) / 5 * 1000
    hash_mib = hasher.memory_cost / 1024
    print(f"baseline: one argon2 check {hash_ms:.0f} ms and {hash_mib:.0f} MiB on this machine")
    print(f"          {BURST} unbounded checks at once would need ~{BURST * hash_mib:,.0f} MiB")
    rows = []
    for label, env in (
        ("default throttles", {}),
        ("throttles lifted", {"LOGIN_ATTEMPTS": "100000", "LOGIN_ADDRESS_ATTEMPTS": "100000"}),
    ):
        with tempfile.TemporaryDirectory() as folder, server(Path(folder), **env) as (url, pid):
            idle, _ = memory_mib(pid)
            known = median_latency(url, ["admin"] * 4)
            unknown = median_latency(url, [f"nobody{i}" for i in range(4)])
            print(f"{label}: wrong password, median of 4: known user {known:.0f} ms, "
                  f"unknown user {unknown:.0f} ms (idle worker {idle:.0f} MiB)")  # fmt: skip
            for kind, names in (
                ("one user", ["admin"] * BURST),
                ("100 names", [f"user{i}" for i in range(BURST)]),
            ):
                before, _ = memory_mib(pid)
                counts, slowest = burst(url, names)
                _, peak = memory_mib(pid)
                rows.append((label, kind, idle, before, peak, counts, slowest))
    print()
    print(f"{'throttles':<18} {'burst':<10} {'idle':>6} {'before':>7} {'peak':>6} "
          f"{'peak-idle':>9} {'slowest':>8}  answers")  # fmt: skip
    for label, kind, idle, before, peak, counts, slowest in rows:
        print(f"{label:<18} {kind:<10} {idle:>4.0f}Mi {before:>5.0f}Mi {peak:>4.0f}Mi "
              f"{peak - idle:>7.0f}Mi {slowest:>7.1f}s  {statuses(counts)}")  # fmt: skip
    print(
        "\nMemory (MiB) is the server worker's: resident at idle, before the burst, and its peak."
    )


if __name__ == "__main__":
    main()
