"""Stanford Research SR830 lock-in amplifier: X, Y, R and Theta from OUTP? 1 to 4."""

import numpy as np

from pybirch.instruments import VisaBaseMeasurementInstrument

#: Full-scale sensitivity in V for each SENS index.
SENSITIVITIES = (
    2e-9, 5e-9, 1e-8, 2e-8, 5e-8, 1e-7, 2e-7, 5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0,
)  # fmt: skip

#: Time constant in s for each OFLT index.
TIME_CONSTANTS = (
    1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3,
    1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4,
)  # fmt: skip


def nearest_index(values, wanted):
    """The index of the entry of ``values`` closest to ``wanted``."""
    return int(np.argmin(np.abs(np.array(values) - wanted)))


class SR830LockIn(VisaBaseMeasurementInstrument):
    """SR830 lock-in amplifier: one row of X, Y, R (V) and Theta (deg) per reading."""

    def __init__(self, name="SR830 Lock-In", adapter="", backend=None):
        super().__init__(name, adapter, backend)
        self.data_columns = np.array(["X", "Y", "R", "Theta"])
        self.data_units = np.array(["V", "V", "V", "deg"])
        self._define_settings({"sensitivity": 1e-6, "time_constant": 0.1})

    def _connect_impl(self):
        return "SR830" in self.instrument.query("*IDN?")

    def _initialize_impl(self):
        settings = self.settings
        self.instrument.write(f"SENS {nearest_index(SENSITIVITIES, settings['sensitivity'])}")
        self.instrument.write(f"OFLT {nearest_index(TIME_CONSTANTS, settings['time_constant'])}")

    def _perform_measurement_impl(self):
        values = [float(self.instrument.query(f"OUTP? {channel}")) for channel in (1, 2, 3, 4)]
        return np.array([values])
