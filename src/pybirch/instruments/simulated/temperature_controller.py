"""A simulated temperature controller: sets the sample temperature in kelvin."""

from __future__ import annotations

from pybirch.instruments.simulated.movement import SimulatedMovement
from pybirch.instruments.simulated.physics import SimulatedSample

_SCHEMA = {"ramp_rate": {"type": "number", "minimum": 0}}


class FakeTemperatureController(SimulatedMovement):
    """Temperature controller whose position is the sample temperature in K.

    ``ramp_rate`` (K/s, 0 for instant) adds the time a ramp would take; ``noise`` is how far
    the temperature settles from the setpoint (standard deviation, K).
    """

    def __init__(
        self,
        name: str = "Temperature Controller",
        *,
        limits: tuple[float, float] | None = (1.5, 400.0),
        ramp_rate: float = 0.0,
        sample: SimulatedSample | None = None,
        delay: float = 0.0,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            name,
            sample=sample,
            limits=limits,
            position_column="temperature",
            position_units="K",
            delay=delay,
            noise=noise,
            seed=seed,
        )
        self._define_settings({"ramp_rate": float(ramp_rate)}, schema=_SCHEMA)
        # the controller starts at whatever temperature the sample is at, so the first
        # ramp is timed from there
        self._position = float(self.sample.temperature)

    def _travel_rate(self) -> float:
        return self._ramp_rate

    def _write_sample(self, value: float) -> None:
        self.sample.temperature = value
