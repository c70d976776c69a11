"""A whole scan over the VISA path: PyVISA with pyvisa-sim, no hardware."""

from __future__ import annotations

import numpy as np

from engine_doubles import Recorder
from pybirch.instruments.drivers import SR830, Keithley2400CurrentSource, Keithley2400Voltmeter
from pybirch.instruments.simulated import KEITHLEY2400_RESOURCE, SIM_BACKEND, SR830_RESOURCE
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanState, ScanTree


def test_a_current_sweep_reads_the_source_meter_and_lock_in_through_pyvisa_sim():
    source = Keithley2400CurrentSource("Source", adapter=KEITHLEY2400_RESOURCE, backend=SIM_BACKEND)
    meter = Keithley2400Voltmeter("Meter", adapter=KEITHLEY2400_RESOURCE, backend=SIM_BACKEND)
    lockin = SR830("Lock-in", adapter=SR830_RESOURCE, backend=SIM_BACKEND)
    currents = np.linspace(-1e-3, 1e-3, 9)
    tree = ScanTree(
        [MovementItem(source, currents, children=[MeasurementItem(meter), MeasurementItem(lockin)])]
    )
    recorder = Recorder()
    scan = Scan(ScanSettings("visa", "iv", scan_tree=tree), extensions=[recorder])

    assert scan.run() is ScanState.COMPLETED, scan.traceback

    volts = recorder.frame("Meter")
    assert len(volts) == 9
    np.testing.assert_array_equal(volts["current (A)"], currents)
    assert np.isfinite(volts.iloc[:, 0]).all()
    lock = recorder.frame("Lock-in")
    assert list(lock.columns[:4]) == ["X (V)", "Y (V)", "R (V)", "Theta (deg)"]
    np.testing.assert_allclose(lock["R (V)"], np.hypot(lock["X (V)"], lock["Y (V)"]))
    # The source and the meter share GPIB0::24, so the engine never reads them at once.
    assert source.resource_key == meter.resource_key
    assert scan.instrument_snapshot["Lock-in"]["adapter"] == SR830_RESOURCE
    assert source.instrument is None  # shut down: the resource is closed again
