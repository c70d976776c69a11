"""A simulated lock-in amplifier: reads the map of the sample at the stage position."""

from __future__ import annotations

import math

import numpy as np

from pybirch.instruments.drivers.sr830 import SENSITIVITIES_V, TIME_CONSTANTS_S
from pybirch.instruments.fake import FakeMeasurementInstrument
from pybirch.instruments.simulated.physics import SimulatedSample, default_sample

_SCHEMA = {
    # the SR830's ranges, so a simulated setup carries over to the real instrument
    "sensitivity": {"enum": list(SENSITIVITIES_V)},
    "time_constant": {"enum": list(TIME_CONSTANTS_S)},
    "phase": {"type": "number", "minimum": -180, "maximum": 180},
}


class FakeLockin(FakeMeasurementInstrument):
    """Lock-in whose signal is the sample's map at the stage position: X, Y, R (V), Theta (deg).

    ``noise`` (V) is added to X and Y before R and Theta are computed from them, so
    ``R == hypot(X, Y)`` always holds. X and Y clip at ``sensitivity`` (full scale), as an
    overloaded lock-in does. ``phase`` is the reference phase subtracted from the signal's.
    ``time_constant`` is recorded with the data; it does not slow the simulation (``delay`` does).
    """

    def __init__(
        self,
        name: str = "Lock-in",
        *,
        sensitivity: float = 2e-3,
        time_constant: float = 0.1,
        phase: float = 0.0,
        sample: SimulatedSample | None = None,
        delay: float = 0.0,
        noise: float = 1e-6,
        seed: int = 0,
    ) -> None:
        super().__init__(name, delay=delay, noise=noise, seed=seed)
        #: The simulated world this lock-in reads.
        self.sample = default_sample() if sample is None else sample
        self.data_columns = np.array(["X", "Y", "R", "Theta"])
        self.data_units = np.array(["V", "V", "V", "deg"])
        self._define_settings(
            {"sensitivity": sensitivity, "time_constant": time_constant, "phase": float(phase)},
            schema=_SCHEMA,
        )

    def _perform_measurement_impl(self) -> np.ndarray:
        self._simulate_delay()
        amplitude, phase_deg = self.sample.lockin_signal()
        phase = math.radians(phase_deg - self._phase)
        x = amplitude * math.cos(phase)
        y = amplitude * math.sin(phase)
        if self._noise > 0:
            x += float(self.rng.normal(0.0, self._noise))
            y += float(self.rng.normal(0.0, self._noise))
        full_scale = self._sensitivity
        x = min(max(x, -full_scale), full_scale)
        y = min(max(y, -full_scale), full_scale)
        return np.array([[x, y, math.hypot(x, y), math.degrees(math.atan2(y, x))]])
