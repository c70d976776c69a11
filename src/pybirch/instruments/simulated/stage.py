"""A simulated linear stage: moves the sample along one axis, in millimetres."""

from __future__ import annotations

from pybirch.instruments.simulated.movement import SimulatedMovement
from pybirch.instruments.simulated.physics import SimulatedSample

_SCHEMA = {
    "axis": {"type": "string", "minLength": 1},
    "speed": {"type": "number", "minimum": 0},
}


class FakeStage(SimulatedMovement):
    """Linear stage along ``axis``; position in mm, optional travel time at ``speed`` mm/s.

    The ``axis`` setting names the sample axis the stage moves; the position column starts as
    the axis name.
    """

    #: Unit of the position; a subclass that changes it converts in the sample hooks.
    units = "mm"

    def __init__(
        self,
        name: str = "Stage",
        *,
        axis: str = "x",
        limits: tuple[float, float] | None = (0.0, 100.0),
        speed: float = 0.0,
        sample: SimulatedSample | None = None,
        delay: float = 0.0,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            name,
            sample=sample,
            limits=limits,
            position_column=axis,
            position_units=self.units,
            delay=delay,
            noise=noise,
            seed=seed,
        )
        self._define_settings({"axis": axis, "speed": float(speed)}, schema=_SCHEMA)
        # start where the sample already is, so the first move is timed from there
        self._position = self._read_sample(axis)

    def _travel_rate(self) -> float:
        return self._speed

    def _read_sample(self, axis: str) -> float:
        return self.sample.positions.get(axis, 0.0)

    def _write_sample(self, value: float) -> None:
        self.sample.positions[self._axis] = value
