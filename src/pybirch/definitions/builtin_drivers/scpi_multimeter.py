"""A SCPI digital multimeter (Keithley 2000 style): DC voltage, one reading per point."""

import numpy as np

from pybirch.instruments import VisaBaseMeasurementInstrument


class ScpiMultimeter(VisaBaseMeasurementInstrument):
    """SCPI multimeter reading DC voltage with ``:READ?`` at a set integration time."""

    def __init__(self, name="SCPI Multimeter", adapter="", backend=None):
        super().__init__(name, adapter, backend)
        self.data_columns = np.array(["voltage"])
        self.data_units = np.array(["V"])
        self._define_settings({"nplc": 1.0, "range": 10.0})

    def _connect_impl(self):
        return bool(self.instrument.query("*IDN?").strip())

    def _initialize_impl(self):
        settings = self.settings
        self.instrument.write(":CONF:VOLT:DC")
        self.instrument.write(f":SENS:VOLT:DC:NPLC {settings['nplc']}")
        self.instrument.write(f":SENS:VOLT:DC:RANG {settings['range']}")

    def _perform_measurement_impl(self):
        return np.array([[float(self.instrument.query(":READ?"))]])
