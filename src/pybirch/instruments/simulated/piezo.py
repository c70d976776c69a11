"""A simulated piezo: fine positioning on top of a stage, in micrometres."""

from __future__ import annotations

from pybirch.instruments.simulated.movement import SimulatedMovement
from pybirch.instruments.simulated.physics import SimulatedSample

_SCHEMA = {
    "axis": {"type": "string", "minLength": 1},
    "speed": {"type": "number", "minimum": 0},
}

_MM_PER_UM = 1e-3


class FakePiezo(SimulatedMovement):
    """Piezo along ``axis``; position in um, optional travel time at ``speed`` um/s.

    The sample keeps every position in mm: the piezo writes its position converted to mm as
    the fine offset of its axis, which the sample adds to any coarse stage on the same axis.
    """

    def __init__(
        self,
        name: str = "Piezo",
        *,
        axis: str = "z",
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
            position_units="um",
            delay=delay,
            noise=noise,
            seed=seed,
        )
        self._define_settings({"axis": axis, "speed": float(speed)}, schema=_SCHEMA)
        # start where the sample already is, so the first move is timed from there
        self._position = self.sample.fine_offsets.get(axis, 0.0) / _MM_PER_UM

    def _travel_rate(self) -> float:
        return self._speed

    def _write_sample(self, value: float) -> None:
        self.sample.fine_offsets[self._axis] = value * _MM_PER_UM
