"""A simulated piezo: fine positioning on top of a stage, in micrometres."""

from __future__ import annotations

from pybirch.instruments.simulated.physics import SimulatedSample
from pybirch.instruments.simulated.stage import FakeStage

_MM_PER_UM = 1e-3


class FakePiezo(FakeStage):
    """Piezo along ``axis``; position in um, optional travel time at ``speed`` um/s.

    The sample keeps every position in mm: the piezo writes its position converted to mm as
    the fine offset of its axis, which the sample adds to any coarse stage on the same axis.
    """

    units = "um"

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
            axis=axis,
            limits=limits,
            speed=speed,
            sample=sample,
            delay=delay,
            noise=noise,
            seed=seed,
        )

    def _read_sample(self, axis: str) -> float:
        return self.sample.fine_offsets.get(axis, 0.0) / _MM_PER_UM

    def _write_sample(self, value: float) -> None:
        self.sample.fine_offsets[self._axis] = value * _MM_PER_UM
