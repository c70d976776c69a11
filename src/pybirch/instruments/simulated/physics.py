"""The simulated world every fake instrument reads and writes.

One :class:`SimulatedSample` holds the state that movements set (stage positions, the
source current, the temperature) and the physics that measurements read back:

* **I-V**: a resistor in series with a diode-like junction,
  ``V = I * R(T) + n * (k_B * T / q) * asinh(I / (2 * I0))``
  with ``R(T) = R0 * (1 + alpha * (T - 300 K))``.
* **Lock-in map**: a few Gaussian spots on a striped background give the amplitude
  ``R(x, y)``; the phase ``theta(x, y)`` follows a stripe pattern and a gradient along ``y``.
  Defocus along ``z`` lowers the amplitude.
* **Spectrum**: Lorentzian peaks on a sloped baseline; their intensity follows the map at the
  current position and their centres shift slightly with temperature.

Units: positions are in **millimetres** for every axis (a piezo converts its micrometres
before writing), current in amperes, temperature in kelvin, wavelengths in nanometres.

The formulas are written once and work on plain floats (through :mod:`math`, which keeps a
single reading to well under a microsecond) and on numpy arrays (vectorised, to draw a whole
map or I-V curve at once).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

#: Boltzmann constant over the elementary charge, in volts per kelvin.
K_B_OVER_Q = 8.617333262e-5

#: Temperature at which ``R0`` is given, in kelvin.
REFERENCE_TEMPERATURE_K = 300.0

Number = float | np.ndarray


@dataclass(frozen=True)
class Spot:
    """A Gaussian bright spot on the lock-in map (positions in mm)."""

    x_mm: float
    y_mm: float
    sigma_mm: float
    amplitude: float


@dataclass(frozen=True)
class Peak:
    """A Lorentzian emission line: centre and FWHM in nm, height in counts per second."""

    center_nm: float
    width_nm: float
    amplitude: float


def _default_spots() -> tuple[Spot, ...]:
    return (
        Spot(25.0, 30.0, 10.0, 1.0),
        Spot(60.0, 70.0, 8.0, 0.8),
        Spot(75.0, 20.0, 5.0, 0.6),
    )


def _default_peaks() -> tuple[Peak, ...]:
    return (
        Peak(532.0, 2.0, 20000.0),
        Peak(610.0, 8.0, 8000.0),
        Peak(705.0, 15.0, 5000.0),
    )


def _math_for(*values: Any) -> ModuleType:
    """:mod:`math` when every value is a plain number (fast), :mod:`numpy` otherwise."""
    for value in values:
        if not isinstance(value, float | int):
            return np
    return math


@dataclass
class SimulatedSample:
    """One simulated sample: the state movements set and the physics measurements read."""

    # --- I-V of the device: series resistor plus junction
    #: Series resistance at 300 K, in ohms.
    r0_ohm: float = 100.0
    #: Temperature coefficient of the resistance, per kelvin (keep below 1/300 so R stays positive).
    alpha_per_k: float = 0.003
    #: Ideality factor of the junction.
    ideality: float = 1.5
    #: Saturation current of the junction, in amperes.
    saturation_current_a: float = 1e-6

    # --- lock-in map
    #: Bright spots on the map.
    spots: tuple[Spot, ...] = field(default_factory=_default_spots)
    #: Relative amplitude of the map away from every spot.
    background: float = 0.1
    #: Relative depth of the stripes on the background.
    stripe_depth: float = 0.05
    #: Period of the stripes along x, in mm.
    stripe_period_mm: float = 20.0
    #: Lock-in amplitude, in volts, of a map value of 1.
    lockin_scale_v: float = 1e-3
    #: Phase far from any structure, in degrees.
    phase_offset_deg: float = 10.0
    #: Amplitude of the phase stripes, in degrees.
    phase_stripe_deg: float = 30.0
    #: Phase gradient along y, in degrees per mm.
    phase_gradient_deg_per_mm: float = 0.2
    #: z of best focus, in mm.
    focus_z_mm: float = 0.0
    #: Defocus at which the signal halves, in mm.
    depth_of_focus_mm: float = 0.05

    # --- spectrum
    #: Emission lines.
    peaks: tuple[Peak, ...] = field(default_factory=_default_peaks)
    #: Baseline at ``baseline_reference_nm``, in counts per second.
    baseline_counts_per_s: float = 500.0
    #: Slope of the baseline, in counts per second per nm.
    baseline_slope_per_nm: float = 0.5
    #: Wavelength at which the baseline equals ``baseline_counts_per_s``.
    baseline_reference_nm: float = 600.0
    #: Shift of every line centre with temperature, in nm per kelvin (from 300 K).
    thermal_shift_nm_per_k: float = 0.01

    # --- state written by movements
    #: Coarse stage positions by axis name, in mm.
    positions: dict[str, float] = field(default_factory=dict)
    #: Fine (piezo) offsets by axis name, in mm, added to the coarse positions.
    fine_offsets: dict[str, float] = field(default_factory=dict)
    #: Current driven through the device, in amperes.
    current: float = 0.0
    #: Sample temperature, in kelvin.
    temperature: float = REFERENCE_TEMPERATURE_K

    def reset(self) -> None:
        """Put the state (positions, current, temperature) back to rest; keep the physics."""
        self.positions.clear()
        self.fine_offsets.clear()
        self.current = 0.0
        self.temperature = REFERENCE_TEMPERATURE_K

    def position(self, axis: str) -> float:
        """Where the sample sits along ``axis``, in mm: coarse position plus fine offset."""
        return self.positions.get(axis, 0.0) + self.fine_offsets.get(axis, 0.0)

    # --- I-V

    def resistance(self, temperature: Number | None = None) -> Number:
        """Series resistance at ``temperature`` (default: the sample's), in ohms."""
        t = self.temperature if temperature is None else temperature
        return self.r0_ohm * (1.0 + self.alpha_per_k * (t - REFERENCE_TEMPERATURE_K))

    def voltage(self, current: Number | None = None, temperature: Number | None = None) -> Number:
        """Voltage across the device for ``current`` at ``temperature`` (defaults: the state)."""
        i = self.current if current is None else current
        t = self.temperature if temperature is None else temperature
        m = _math_for(i, t)
        thermal_voltage = K_B_OVER_Q * t
        junction = self.ideality * thermal_voltage * m.asinh(i / (2.0 * self.saturation_current_a))
        return i * self.resistance(t) + junction

    # --- lock-in map

    def map_profile(self, x: Number | None = None, y: Number | None = None) -> Number:
        """Dimensionless brightness of the map at (x, y) in mm (defaults: the state)."""
        x = self.position("x") if x is None else x
        y = self.position("y") if y is None else y
        m = _math_for(x, y)
        total = self.background * (
            1.0 + self.stripe_depth * m.cos(2.0 * math.pi * x / self.stripe_period_mm)
        )
        for spot in self.spots:
            distance2 = (x - spot.x_mm) ** 2 + (y - spot.y_mm) ** 2
            total = total + spot.amplitude * m.exp(-distance2 / (2.0 * spot.sigma_mm**2))
        return total

    def focus(self, z: Number | None = None) -> Number:
        """Fraction of the signal collected at height ``z`` in mm (1 in focus)."""
        z = self.position("z") if z is None else z
        return 1.0 / (1.0 + ((z - self.focus_z_mm) / self.depth_of_focus_mm) ** 2)

    def lockin_phase(self, x: Number | None = None, y: Number | None = None) -> Number:
        """Phase of the lock-in signal at (x, y) in mm, in degrees."""
        x = self.position("x") if x is None else x
        y = self.position("y") if y is None else y
        m = _math_for(x, y)
        return (
            self.phase_offset_deg
            + self.phase_stripe_deg * m.sin(2.0 * math.pi * x / self.stripe_period_mm)
            + self.phase_gradient_deg_per_mm * y
        )

    def lockin_signal(
        self, x: Number | None = None, y: Number | None = None, z: Number | None = None
    ) -> tuple[Number, Number]:
        """Amplitude (V) and phase (degrees) the lock-in sees at (x, y, z) in mm."""
        x = self.position("x") if x is None else x
        y = self.position("y") if y is None else y
        amplitude = self.lockin_scale_v * self.map_profile(x, y) * self.focus(z)
        return amplitude, self.lockin_phase(x, y)

    # --- spectrum

    def peak_centers(self, temperature: float | None = None) -> np.ndarray:
        """Line centres at ``temperature`` (default: the sample's), in nm."""
        t = self.temperature if temperature is None else temperature
        shift = self.thermal_shift_nm_per_k * (t - REFERENCE_TEMPERATURE_K)
        return np.array([peak.center_nm + shift for peak in self.peaks])

    def spectrum(
        self,
        wavelengths_nm: np.ndarray,
        peaks: tuple[Peak, ...] | None = None,
        *,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        temperature: float | None = None,
    ) -> np.ndarray:
        """Emission in counts per second at each wavelength (defaults: the state, own peaks)."""
        wavelengths = np.asarray(wavelengths_nm, dtype=float)
        t = self.temperature if temperature is None else temperature
        x = self.position("x") if x is None else x
        y = self.position("y") if y is None else y
        brightness = self.map_profile(x, y) * self.focus(z)
        shift = self.thermal_shift_nm_per_k * (t - REFERENCE_TEMPERATURE_K)
        rate = self.baseline_counts_per_s + self.baseline_slope_per_nm * (
            wavelengths - self.baseline_reference_nm
        )
        for peak in self.peaks if peaks is None else peaks:
            half_width2 = (peak.width_nm / 2.0) ** 2
            line = half_width2 / ((wavelengths - peak.center_nm - shift) ** 2 + half_width2)
            rate = rate + (brightness * peak.amplitude) * line
        # a detector never reports negative light, whatever the baseline slope says
        return np.maximum(rate, 0.0)


_default: SimulatedSample | None = None
_default_lock = threading.Lock()


def default_sample() -> SimulatedSample:
    """The process-wide sample shared by simulated instruments created without one."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SimulatedSample()
        return _default
