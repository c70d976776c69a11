"""VISA discovery: PyBirch's parallel ``*IDN?`` scan against asking each resource in turn.

Run: ``.venv/bin/python benchmarks/visa_scan.py`` (``--quick`` for one pair of runs,
``--timeout-ms N`` for another ``*IDN?`` timeout, default the scan's own).

A pyvisa-sim definitions file written to a temporary folder holds 20 resources: Keithley
2400s and SR830s (PyBirch has drivers for them), instruments from makers it has no driver for,
and silent instruments that never answer (their reads time out, as a powered-off instrument's
do). The baseline, measured in the same run on the same resources, is the plain PyVISA loop
a scan would be without threads: open, ask ``*IDN?``, close, one resource after another. Scan
and baseline runs alternate so both meet the same machine noise; figures are medians. The
ratio is baseline seconds over scan seconds (how many times faster the scan is).

Goal: a scan of 20 resources, silent ones included, in under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyvisa
import pyvisa.constants
import pyvisa.errors

from pybirch.instruments import FoundInstrument, scan_visa_resources
from pybirch.instruments.visa_discovery import DEFAULT_TIMEOUT_MS

GOAL_SECONDS = 2.0

#: (kind, resource names, ``*IDN?`` answer or None for a silent instrument).
RESOURCES: list[tuple[str, list[str], str | None]] = [
    (
        "keithley2400",
        [f"GPIB0::{address}::INSTR" for address in range(1, 7)],
        "KEITHLEY INSTRUMENTS INC.,MODEL 2400,{serial},C32   Oct  4 2010 14:20:11/A02  /K/J",
    ),
    (
        "sr830",
        [f"GPIB0::{address}::INSTR" for address in range(7, 13)],
        "Stanford_Research_Systems,SR830,s/n{serial},ver1.07",
    ),
    (
        "unknown_usb",
        [f"USB0::0x1AB1::0x04CE::DS1ZA00000000{n}::0::INSTR" for n in range(2)],
        "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA{serial},00.04.04.SP3",
    ),
    (
        "unknown_lan",
        [f"TCPIP0::10.0.0.{host}::inst0::INSTR" for host in (11, 12)],
        "Agilent Technologies,33522A,MY{serial},2.09-1.19-2.00-52-00",
    ),
    ("silent", [f"GPIB0::{address}::INSTR" for address in range(20, 24)], None),
]

_INTERFACE = {"GPIB": "GPIB INSTR", "USB0": "USB INSTR", "TCPIP0": "TCPIP INSTR"}


def write_definitions(folder: Path) -> Path:
    """Write the 20-resource pyvisa-sim file into ``folder``; return its path."""
    lines = ['spec: "1.1"', "devices:"]
    resources = ["resources:"]
    serial = 1000
    for kind, names, answer in RESOURCES:
        for name in names:
            serial += 1
            device = f"{kind}_{serial}"
            interface = next(v for k, v in _INTERFACE.items() if name.startswith(k))
            lines += [
                f"  {device}:",
                "    eom:",
                f"      {interface}:",
                '        q: "\\n"',
                '        r: "\\n"',
                "    dialogues:",
            ]
            if answer is None:
                # no *IDN? dialogue: pyvisa-sim queues no reply and the read times out
                lines.append('      - q: "*RST"')
            else:
                lines += ['      - q: "*IDN?"', f'        r: "{answer.format(serial=serial)}"']
            resources += [f"  {name}:", f"    device: {device}"]
    path = folder / "twenty.yaml"
    path.write_text("\n".join(lines + resources) + "\n")
    return path


def serial_baseline(manager: pyvisa.ResourceManager, timeout_ms: int) -> dict[str, float]:
    """Seconds each resource takes with plain PyVISA, asked one after another."""
    seconds: dict[str, float] = {}
    for name in manager.list_resources():
        started = time.perf_counter()
        resource = manager.open_resource(name, open_timeout=timeout_ms)
        try:
            resource.timeout = timeout_ms
            resource.read_termination = resource.write_termination = "\n"
            resource.query("*IDN?")
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code != pyvisa.constants.StatusCode.error_timeout:
                raise
        finally:
            resource.close()
        seconds[name] = time.perf_counter() - started
    return seconds


def checked(found: list[FoundInstrument]) -> None:
    """Fail loudly if the scan did not find what the definitions hold."""
    drivers = [f.driver for f in found if f.driver]
    silent = [f for f in found if f.error]
    unknown = [f for f in found if f.idn and not f.driver]
    counts = (len(found), len(drivers), len(unknown), len(silent))
    if counts != (20, 12, 4, 4):
        raise RuntimeError(f"expected 20 resources, 12 with drivers, 4 unknown, 4 silent: {counts}")


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    """Print the scan's seconds, the serial baseline per resource and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pair of runs instead of five")
    parser.add_argument("--timeout-ms", type=int, default=DEFAULT_TIMEOUT_MS)
    args = parser.parse_args()
    repeats = 1 if args.quick else 5

    with tempfile.TemporaryDirectory(prefix="pybirch-visa-bench-") as folder:
        manager = pyvisa.ResourceManager(f"{write_definitions(Path(folder))}@sim")
        names = manager.list_resources()
        print(f"{len(names)} simulated resources, *IDN? timeout {args.timeout_ms} ms")
        print(f"goal: a scan of all {len(names)} in < {GOAL_SECONDS:g} s")

        def scan() -> list[FoundInstrument]:
            return scan_visa_resources(manager, timeout_ms=args.timeout_ms)

        checked(scan())  # warm-up, and proof the scan finds what is there
        scans, baselines, per_resource = [], [], []
        for _ in range(repeats):
            scans.append(timed(scan))
            each = serial_baseline(manager, args.timeout_ms)
            baselines.append(sum(each.values()))
            per_resource.append(each)
        manager.close()

    scan_s, baseline_s = statistics.median(scans), statistics.median(baselines)
    ratio = statistics.median(b / s for s, b in zip(scans, baselines, strict=True))
    silent = {name for kind, group, _ in RESOURCES if kind == "silent" for name in group}
    answering_ms = statistics.median(
        1000 * s for each in per_resource for name, s in each.items() if name not in silent
    )
    silent_ms = statistics.median(
        1000 * s for each in per_resource for name, s in each.items() if name in silent
    )
    verdict = "[goal met]" if scan_s < GOAL_SECONDS else "[GOAL MISSED]"
    print(f"parallel scan        {scan_s:7.3f} s  {verdict}")
    print(
        f"serial baseline      {baseline_s:7.3f} s  ({baseline_s / len(names) * 1000:.1f} ms per "
        f"resource: {answering_ms:.2f} ms answering, {silent_ms:.0f} ms silent)"
    )
    print(f"ratio (baseline / scan)  {ratio:5.1f}x")


if __name__ == "__main__":
    main()
