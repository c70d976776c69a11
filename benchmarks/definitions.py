"""Stored drivers: ``perform_measurement`` through the sandbox against the same code from a file.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/definitions.py`` (``--quick`` for fewer
rounds).

Each driver's class body is compiled twice in this run: from an ordinary module file
(the baseline: plain Python, the real numpy) and through :class:`InstrumentFactory`
(RestrictedPython, attribute and write guards, curated numpy, the narrow VISA resource
view). Two drivers: ``visa`` reads a simulated SR830 through pyvisa-sim (four queries and
some numpy per reading, what a lab driver does) and ``maths`` does numpy and Python
arithmetic only (no I/O: the guards' worst case). Rounds alternate baseline and sandbox
so both meet the same machine noise; figures are medians of per-reading microseconds.
The ratio is sandbox over baseline.

Goal: the sandbox costs at most 1.5 times the file-loaded driver.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pybirch.definitions import InstrumentFactory, code_hash
from pybirch.instruments.base import Instrument
from pybirch.instruments.simulated.visa_sim import SIM_BACKEND, SR830_RESOURCE

GOAL_RATIO = 1.5

#: What an ordinary driver file imports that the sandbox provides by itself.
FILE_HEADER = (
    "import numpy as np\n"
    "from pybirch.instruments import FakeMeasurementInstrument, VisaBaseMeasurementInstrument\n"
)

DRIVERS = {
    "visa": """
class Polar(VisaBaseMeasurementInstrument):
    def __init__(self, name="Polar", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = ["X", "Y", "R", "phase"]
        self.data_units = ["V", "V", "V", "deg"]
        self._define_settings({"gain": 2.0})

    def _perform_measurement_impl(self):
        gain = self.get_setting("gain")
        x = float(self.instrument.query("OUTP? 1")) * gain
        y = float(self.instrument.query("OUTP? 2")) * gain
        r = float(self.instrument.query("OUTP? 3")) * gain
        theta = float(self.instrument.query("OUTP? 4"))
        return np.array([[x, y, np.hypot(x, y) + 0 * r, np.degrees(np.arctan2(y, x)) + 0 * theta]])
""",
    "maths": """
class Spectrum(FakeMeasurementInstrument):
    def __init__(self, name="Spectrum"):
        super().__init__(name)
        self.data_columns = ["peak", "width", "area"]
        self.data_units = ["nm", "nm", ""]
        self.axis = np.linspace(400.0, 700.0, 256)
        self.count = 0

    def _perform_measurement_impl(self):
        self.count = self.count + 1
        centre = 550.0 + (self.count % 7)
        values = np.exp(-((self.axis - centre) / 12.0) ** 2)
        peak = self.axis[int(np.argmax(values))]
        above = values > values.max() / 2
        width = float(above.sum()) * (self.axis[1] - self.axis[0])
        area = 0.0
        for index, value in enumerate(values[::16]):
            if value > 0.01:
                area += value * index
        return np.array([[peak, width, area]])
""",
}

ADAPTERS = {"visa": SR830_RESOURCE, "maths": None}


def from_file(kind: str, folder: Path) -> Instrument:
    """The driver loaded from an ordinary module file: the baseline."""
    path = folder / f"bench_driver_{kind}.py"
    path.write_text(FILE_HEADER + DRIVERS[kind], encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    driver = next(
        v for v in vars(module).values() if isinstance(v, type) and v.__module__ == path.stem
    )
    if ADAPTERS[kind]:
        return driver(name=f"file {kind}", adapter=ADAPTERS[kind])
    return driver(name=f"file {kind}")


def from_definition(kind: str) -> Instrument:
    """The same class body loaded through the factory (sandbox)."""
    code = DRIVERS[kind]
    definition = {
        "id": 1,
        "name": kind,
        "version": 1,
        "source_code": code,
        "approved_code_hash": code_hash(code),
    }
    return InstrumentFactory.create_instance(definition, ADAPTERS[kind], name=f"stored {kind}")


def per_reading_us(instrument: Instrument, readings: int) -> float:
    """Microseconds one ``perform_measurement`` takes, averaged over ``readings``."""
    measure = instrument.perform_measurement  # type: ignore[attr-defined]
    started = time.perf_counter()
    for _ in range(readings):
        measure()
    return (time.perf_counter() - started) / readings * 1e6


def main() -> None:
    """Print per-reading medians of both loads of each driver, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 21")
    args = parser.parse_args()
    rounds = 5 if args.quick else 21
    readings = {"visa": 200, "maths": 2000}
    # both loads open the simulated lock-in through the process default backend
    os.environ["PYBIRCH_VISA_BACKEND"] = SIM_BACKEND

    print(f"goal: sandbox / file <= {GOAL_RATIO:g}; medians of {rounds} alternating rounds")
    print(f"{'driver':8} {'file µs':>10} {'sandbox µs':>11} {'ratio':>7}", flush=True)
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="pybirch-definitions-bench-") as folder:
        for kind in DRIVERS:
            plain, stored = from_file(kind, Path(folder)), from_definition(kind)
            for instrument in (plain, stored):
                instrument.connect()
                instrument.perform_measurement()  # type: ignore[attr-defined]
            files, sandboxes, ratios = [], [], []
            for _ in range(rounds):
                file_us = per_reading_us(plain, readings[kind])
                sandbox_us = per_reading_us(stored, readings[kind])
                files.append(file_us)
                sandboxes.append(sandbox_us)
                ratios.append(sandbox_us / file_us)
            ratio = statistics.median(ratios)
            worst = max(worst, ratio)
            print(
                f"{kind:8} {statistics.median(files):10.1f} {statistics.median(sandboxes):11.1f} "
                f"{ratio:6.2f}x"
            )
            plain.shutdown()
            stored.shutdown()
    verdict = "[goal met]" if worst <= GOAL_RATIO else "[GOAL MISSED]"
    print(f"worst ratio {worst:.2f}x  {verdict}")


if __name__ == "__main__":
    main()
