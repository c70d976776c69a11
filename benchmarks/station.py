"""A lab computer's station: start-up with 50 bound instruments, a VISA scan, scan dispatch.

Run: ``.venv/bin/python benchmarks/station.py`` (``--quick`` for fewer repeats).

A real ``pybirch serve --demo`` process serves a throwaway SQLite database; real
``pybirch agent`` processes connect to it, as lab computers do. Figures, each with its goal
(issue 11) and a baseline measured in the same run:

1. an agent with 50 bound instruments (25 simulated, 25 SR830 lock-ins over pyvisa-sim)
   from ``pybirch agent`` launched to its registration, with all 50 offered, recorded by the
   server (goal < 3 s); baseline: an agent of a computer with nothing bound (the same
   process start, connection and registration without loading instruments). Runs alternate;
   medians.
2. a VISA resource scan of 20 resources (12 with drivers, 4 unknown makers, 4 silent) through
   ``Station.find_instruments`` (goal < 2 s); baseline: the same ``*IDN?`` asked of each
   resource in turn with plain PyVISA.
3. scan dispatch from the browser: the builder's POST of a queued scan, until the redirect
   to the new scan's page, for the remote station (over the agent's link) (goal p95 < 50 ms);
   baseline: the same POST for the server's own station.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_support import running_agent, running_server  # the tests' process launchers
from lab_client import (
    LabClient,
    agent_info,
    between,
    queue_choice,
    register_computer,
    wait_for,
)
from pybirch.database import DatabaseService
from pybirch.instruments.simulated import FakeLockin, FakeMultimeter, FakeStage
from pybirch.instruments.simulated.visa_sim import SIM_DEFINITIONS
from pybirch.station import Station
from visa_scan import serial_baseline, write_definitions

PASSWORD = "station benchmark password"
BOUND_SIMULATED = 25
BOUND_VISA = 25
GOAL_START_S = 3.0
GOAL_SCAN_S = 2.0
GOAL_DISPATCH_P95_S = 0.050
PATIENCE = 120.0


def sr830_definitions(folder: Path, count: int) -> Path:
    """A pyvisa-sim file with ``count`` SR830s, at GPIB0::30::INSTR and on."""
    shipped = yaml.safe_load(SIM_DEFINITIONS.read_text())
    definitions = {
        "spec": shipped["spec"],
        "devices": {"sr830": shipped["devices"]["sr830"]},
        "resources": {f"GPIB0::{30 + n}::INSTR": {"device": "sr830"} for n in range(count)},
    }
    path = folder / "sr830s.yaml"
    path.write_text(yaml.safe_dump(definitions))
    return path


def bind_fifty(db: DatabaseService, lab_id: int, computer_id: int) -> None:
    """Bind 25 simulated instruments and 25 SR830s over VISA to one computer."""
    kinds = [FakeLockin, FakeMultimeter, FakeStage]
    for n in range(BOUND_SIMULATED):
        cls = kinds[n % len(kinds)]
        record = db.register_instrument_on_computer(
            {
                "name": f"Sim {n:02d}",
                "instrument_type": cls.kind,
                "pybirch_class": f"{cls.__module__}:{cls.__qualname__}",
                "adapter": None,
                "last_settings": {},
            },
            lab_id,
            computer_id,
        )
        db.bind_instrument_to_computer(record.id, computer_id=computer_id)
    for n in range(BOUND_VISA):
        resource = f"GPIB0::{30 + n}::INSTR"
        record = db.register_instrument_on_computer(
            {
                "name": f"Lock-in {n:02d}",
                "instrument_type": "measurement",
                "pybirch_class": "pybirch.instruments.drivers.sr830:SR830",
                "adapter": resource,
                "last_settings": {},
            },
            lab_id,
            computer_id,
        )
        db.bind_instrument_to_computer(
            record.id, computer_id=computer_id, adapter=resource, last_settings={"phase": 10.0}
        )


def agent_start(
    folder: Path,
    url: str,
    token: str,
    database_url: str,
    env: dict,
    db: DatabaseService,
    computer_id: int,
    expected: int,
) -> float:
    """Seconds from launching ``pybirch agent`` to its registration with ``expected`` offered."""
    previous = db.get_computer(computer_id).last_seen
    started = time.perf_counter()
    with running_agent(folder, url, token, database_url, simulated=False, env=env):
        wait_for(
            lambda: (
                len(agent_info(db, computer_id).get("instruments", [])) == expected
                and db.get_computer(computer_id).last_seen != previous
            ),
            PATIENCE,
            "the agent to register",
        )
        return time.perf_counter() - started


def dispatch_times(
    client: LabClient, lab_id: int, computer: str, repeats: int, queue_name: str
) -> list[float]:
    """Seconds of each builder POST that queues a scan on ``computer``."""
    seconds = []
    for n in range(repeats):
        page = client.http.get(
            f"{client.url}/builder/", params={"lab": lab_id, "computer": computer}, timeout=30
        ).text
        queue = queue_choice(page, queue_name)
        form = {
            "csrf_token": between(page, 'name="csrf_token" value="', '"'),
            "computer": computer,
            "scan_name": f"dispatch {n}",
            **queue,
            "axis1_instrument": "Stage X",
            "axis1_start": "0",
            "axis1_stop": "10",
            "axis1_points": "10",
            "measure": "Lock-in",
            "action": "queue",
        }
        started = time.perf_counter()
        response = client.http.post(
            f"{client.url}/builder/{lab_id}", data=form, timeout=30, allow_redirects=False
        )
        seconds.append(time.perf_counter() - started)
        if response.status_code != 302:
            raise RuntimeError(f"the builder refused: {response.text[:500]}")
    return seconds


def main() -> None:
    """Print the three figures with their baselines and goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    starts, dispatches = (1, 10) if args.quick else (3, 50)
    folder = Path(tempfile.mkdtemp(prefix="pybirch-station-bench-"))
    for name in ("server", "bench", "empty", "raman"):
        (folder / name).mkdir()
    database_url = f"sqlite:///{folder / 'server' / 'pybirch.db'}"
    visa = sr830_definitions(folder, BOUND_VISA)
    with running_server(folder / "server", PASSWORD, demo=True, database_url=database_url) as url:
        db, lab_id, bench_id, bench_token = register_computer(
            database_url, url, PASSWORD, "Bench PC"
        )
        empty, empty_token = db.create_computer(lab_id, "Empty PC")
        bind_fifty(db, lab_id, bench_id)
        bench_env = {
            "PYBIRCH_COMPUTER_NAME": "bench-pc",
            "PYBIRCH_COMPUTER_ID": "bench-machine",
            "PYBIRCH_VISA_BACKEND": f"{visa}@sim",
        }
        empty_env = {"PYBIRCH_COMPUTER_NAME": "empty-pc", "PYBIRCH_COMPUTER_ID": "empty-machine"}

        print(
            f"1. agent start-up, {BOUND_SIMULATED + BOUND_VISA} bound instruments "
            f"({BOUND_VISA} over pyvisa-sim), {starts} run(s) each"
        )
        with_bindings, without = [], []
        for _ in range(starts):
            with_bindings.append(
                agent_start(
                    folder / "bench", url, bench_token, database_url, bench_env, db, bench_id, 50
                )
            )
            without.append(
                agent_start(
                    folder / "empty", url, empty_token, database_url, empty_env, db, empty.id, 0
                )
            )
        median, base = statistics.median(with_bindings), statistics.median(without)
        verdict = "goal met" if median < GOAL_START_S else "GOAL MISSED"
        print(
            f"   50 bound: {median:.2f} s   nothing bound (baseline): {base:.2f} s   "
            f"loading 50: {median - base:+.2f} s   [{verdict}: < {GOAL_START_S:g} s]"
        )

        print("2. VISA resource scan of 20 resources (12 with drivers, 4 unknown, 4 silent)")
        twenty = write_definitions(folder)
        os.environ["PYBIRCH_VISA_BACKEND"] = f"{twenty}@sim"
        station = Station(db)
        scan_seconds = []
        for _ in range(starts):
            started = time.perf_counter()
            found = station.find_instruments()
            scan_seconds.append(time.perf_counter() - started)
        import pyvisa

        serial = sum(serial_baseline(pyvisa.ResourceManager(f"{twenty}@sim"), 500).values())
        scan = statistics.median(scan_seconds)
        drivers = sum(1 for each in found.found if each.driver)
        verdict = "goal met" if scan < GOAL_SCAN_S else "GOAL MISSED"
        print(
            f"   scan: {scan:.2f} s ({len(found.found)} resources, {drivers} with a driver)   "
            f"one after another (baseline): {serial:.2f} s   {serial / scan:.1f}x faster   "
            f"[{verdict}: < {GOAL_SCAN_S:g} s]"
        )

        print(f"3. scan dispatch from the browser, {dispatches} queued scans each")
        client = LabClient(url, "admin", PASSWORD)
        raman, raman_token = db.create_computer(lab_id, "Raman PC")
        with running_agent(
            folder / "raman",
            url,
            raman_token,
            database_url,
            env={"PYBIRCH_COMPUTER_NAME": "raman-pc", "PYBIRCH_COMPUTER_ID": "raman-machine"},
        ):
            wait_for(
                lambda: len(agent_info(db, raman.id).get("instruments", [])) == 5,
                PATIENCE,
                "the simulated agent",
            )
            remote = np.array(dispatch_times(client, lab_id, str(raman.id), dispatches, "remote"))
            local = np.array(dispatch_times(client, lab_id, "local", dispatches, "local"))
        p95, base95 = np.percentile(remote, 95), np.percentile(local, 95)
        verdict = "goal met" if p95 < GOAL_DISPATCH_P95_S else "GOAL MISSED"
        print(
            f"   remote station: p50 {np.median(remote) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms   "
            f"server's own (baseline): p50 {np.median(local) * 1e3:.1f} ms, "
            f"p95 {base95 * 1e3:.1f} ms   [{verdict}: p95 < {GOAL_DISPATCH_P95_S * 1e3:g} ms]"
        )
        client.close()
        db.close()


if __name__ == "__main__":
    main()
