"""Common ground of the simulated movements: limits, travel time, jitter, writing the sample."""

from __future__ import annotations

import math
import time
from abc import abstractmethod

from pybirch.instruments.errors import MovementLimitError
from pybirch.instruments.fake import FakeMovementInstrument
from pybirch.instruments.simulated.physics import SimulatedSample, default_sample


class SimulatedMovement(FakeMovementInstrument):
    """A fake movement that drives one quantity of a :class:`SimulatedSample`.

    Moving checks the target against ``limits`` (raising :class:`MovementLimitError`), waits
    ``delay`` plus the travel time at :meth:`_travel_rate` (both skipped when zero), adds the
    ``noise`` setting as jitter on where the quantity actually settles, and writes that value
    to the sample. ``position`` reads back the settled value.
    """

    def __init__(
        self,
        name: str,
        *,
        sample: SimulatedSample | None,
        limits: tuple[float, float] | None,
        position_column: str,
        position_units: str,
        delay: float,
        noise: float,
        seed: int,
    ) -> None:
        super().__init__(name, delay=delay, noise=noise, seed=seed)
        #: The simulated world this movement acts on.
        self.sample = default_sample() if sample is None else sample
        self.position_column = position_column
        self.position_units = position_units
        self.limits = None if limits is None else (float(limits[0]), float(limits[1]))

    @abstractmethod
    def _write_sample(self, value: float) -> None:
        """Set the simulated quantity to ``value`` (in this movement's units)."""

    def _travel_rate(self) -> float:
        """Units per second the quantity changes at; 0 means instantly."""
        return 0.0

    @property
    def position(self) -> float:
        """Where the quantity settled after the last move."""
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        target = self._check_target(value)
        wait = self._delay
        rate = self._travel_rate()
        if rate > 0:
            wait += abs(target - self._position) / rate
        if wait > 0:
            time.sleep(wait)
        if self._noise > 0:
            target += float(self.rng.normal(0.0, self._noise))
        self._position = target
        self._write_sample(target)

    def _check_target(self, value: float) -> float:
        """``value`` as a float, or :class:`MovementLimitError` if it is not a reachable target."""
        target = float(value)
        units = f" {self.position_units}" if self.position_units else ""
        if not math.isfinite(target):
            raise MovementLimitError(f"cannot move to {target}{units}", self.name)
        limits = self.limits
        if limits is not None and not limits[0] <= target <= limits[1]:
            raise MovementLimitError(
                f"cannot move to {target:g}{units}: outside the limits "
                f"[{limits[0]:g}, {limits[1]:g}]{units}",
                self.name,
            )
        return target
