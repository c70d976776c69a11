"""Base classes for simulated instruments: no adapter, optional delay and noise.

:class:`FakeMeasurementInstrument` and :class:`FakeMovementInstrument` are templates like
their real counterparts; they add the two settings every simulation needs, ``delay``
(seconds spent per reading or move) and ``noise`` (standard deviation added to readings),
and a random generator seeded per instrument so a simulated run can be repeated.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pybirch.instruments.base import BaseMeasurementInstrument, BaseMovementInstrument

_SIMULATION_SCHEMA: dict[str, Any] = {
    "delay": {"type": "number", "minimum": 0},
    "noise": {"type": "number", "minimum": 0},
}


class _SimulationMixin:
    """Delay and noise settings shared by every simulated instrument."""

    _delay: float
    _noise: float

    def _define_simulation_settings(
        self, extra: dict[str, Any], schema: dict[str, Any], delay: float, noise: float, seed: int
    ) -> None:
        self._define_settings(  # type: ignore[attr-defined]
            {"delay": float(delay), "noise": float(noise), **extra},
            schema={**_SIMULATION_SCHEMA, **schema},
        )
        self.rng = np.random.default_rng(seed)

    def _simulate_delay(self) -> None:
        if self._delay > 0:
            time.sleep(self._delay)

    def _add_noise(self, values: np.ndarray) -> np.ndarray:
        if self._noise > 0:
            return values + self.rng.normal(0.0, self._noise, size=values.shape)
        return values


class FakeMeasurementInstrument(_SimulationMixin, BaseMeasurementInstrument):
    """Template for simulated measurements; implement ``_perform_measurement_impl``."""

    def __init__(self, name: str, delay: float = 0.0, noise: float = 0.0, seed: int = 0) -> None:
        super().__init__(name)
        self._define_simulation_settings({}, {}, delay, noise, seed)


class FakeMovementInstrument(_SimulationMixin, BaseMovementInstrument):
    """Template for simulated movements; the default keeps the position it is given."""

    def __init__(self, name: str, delay: float = 0.0, noise: float = 0.0, seed: int = 0) -> None:
        super().__init__(name)
        self._define_simulation_settings({}, {}, delay, noise, seed)
        self._position = 0.0

    @property
    def position(self) -> float:
        """The last position moved to."""
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        self._simulate_delay()
        self._position = float(value)
