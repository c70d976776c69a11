"""A simulated current source: drives the current through the simulated device."""

from __future__ import annotations

from pybirch.instruments.simulated.movement import SimulatedMovement
from pybirch.instruments.simulated.physics import SimulatedSample


class FakeCurrentSource(SimulatedMovement):
    """Current source whose position is the output current in amperes."""

    def __init__(
        self,
        name: str = "Current Source",
        *,
        sample: SimulatedSample | None = None,
        limits: tuple[float, float] | None = (-0.1, 0.1),
        delay: float = 0.0,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            name,
            sample=sample,
            limits=limits,
            position_column="current",
            position_units="A",
            delay=delay,
            noise=noise,
            seed=seed,
        )
        self._position = float(self.sample.current)

    def _write_sample(self, value: float) -> None:
        self.sample.current = value

    def _shutdown_impl(self) -> None:
        # a source left driving current is not safe: switching off means zero output
        self._position = 0.0
        self.sample.current = 0.0
