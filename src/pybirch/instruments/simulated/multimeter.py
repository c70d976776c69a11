"""A simulated multimeter: reads the voltage across the simulated device."""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.instruments.fake import FakeMeasurementInstrument
from pybirch.instruments.simulated.physics import SimulatedSample, default_sample

_SCHEMA = {"include_current": {"type": "boolean"}}


class FakeMultimeter(FakeMeasurementInstrument):
    """Voltmeter across the simulated device: ``voltage`` (V), optionally ``current`` (A).

    The voltage follows the sample's I-V at the current the source drives, plus ``noise``
    (standard deviation, V). With ``include_current`` a second column reports that current
    as an ideal series ammeter sees it.
    """

    def __init__(
        self,
        name: str = "Multimeter",
        *,
        include_current: bool = False,
        sample: SimulatedSample | None = None,
        delay: float = 0.0,
        noise: float = 1e-5,
        seed: int = 0,
    ) -> None:
        super().__init__(name, delay=delay, noise=noise, seed=seed)
        #: The simulated world this multimeter reads.
        self.sample = default_sample() if sample is None else sample
        self._define_settings({"include_current": bool(include_current)}, schema=_SCHEMA)

    def _settings_stored(self, values: dict[str, Any]) -> None:
        # the columns are derived from a setting, so a restored or changed setting must
        # change them too
        if "include_current" in values:
            if values["include_current"]:
                self.data_columns = np.array(["voltage", "current"])
                self.data_units = np.array(["V", "A"])
            else:
                self.data_columns = np.array(["voltage"])
                self.data_units = np.array(["V"])

    def _perform_measurement_impl(self) -> np.ndarray:
        self._simulate_delay()
        sample = self.sample
        current = sample.current
        voltage = sample.voltage(current)
        if self._noise > 0:
            voltage += float(self.rng.normal(0.0, self._noise))
        if self._include_current:
            return np.array([[voltage, current]])
        return np.array([[voltage]])
