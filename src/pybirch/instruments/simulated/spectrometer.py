"""A simulated spectrometer: a whole spectrum of the sample per reading."""

from __future__ import annotations

from typing import Any

import numpy as np

from pybirch.instruments.errors import InvalidSettingError
from pybirch.instruments.fake import FakeMeasurementInstrument
from pybirch.instruments.simulated.physics import Peak, SimulatedSample, default_sample

_PEAK_SCHEMA = {
    "type": "array",
    "prefixItems": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "number", "minimum": 0},
    ],
    "minItems": 3,
    "maxItems": 3,
}

_SCHEMA = {
    "pixels": {"type": "integer", "minimum": 2, "maximum": 65536},
    "wavelength_start": {"type": "number", "exclusiveMinimum": 0},
    "wavelength_end": {"type": "number", "exclusiveMinimum": 0},
    "integration_time": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
    "dark_counts": {"type": "number", "minimum": 0},
    "saturation": {"type": "number", "exclusiveMinimum": 0},
    "peaks": {"anyOf": [{"type": "null"}, {"type": "array", "items": _PEAK_SCHEMA}]},
}


class FakeSpectrometer(FakeMeasurementInstrument):
    """Spectrometer: each reading is ``pixels`` rows of ``wavelength`` (nm), ``intensity`` (counts).

    Counts are ``dark_counts + integration_time * emission``, with ``noise`` (standard
    deviation, counts) added and clipped at ``saturation``. The emission is the sample's
    spectrum at the current position and temperature; ``peaks`` (a list of
    ``[center_nm, width_nm, counts_per_s]``) replaces the sample's own lines when not None.
    ``integration_time`` (s) scales the counts; ``delay`` is what costs wall time.
    """

    def __init__(
        self,
        name: str = "Spectrometer",
        *,
        pixels: int = 1024,
        wavelength_start: float = 450.0,
        wavelength_end: float = 800.0,
        integration_time: float = 0.1,
        peaks: list[list[float]] | None = None,
        sample: SimulatedSample | None = None,
        delay: float = 0.0,
        noise: float = 5.0,
        seed: int = 0,
    ) -> None:
        super().__init__(name, delay=delay, noise=noise, seed=seed)
        #: The simulated world this spectrometer looks at.
        self.sample = default_sample() if sample is None else sample
        self.data_columns = np.array(["wavelength", "intensity"])
        self.data_units = np.array(["nm", "counts"])
        self._grid_key: tuple[int, float, float] | None = None
        self._grid = np.empty(0)
        self._define_settings(
            {
                "pixels": int(pixels),
                "wavelength_start": float(wavelength_start),
                "wavelength_end": float(wavelength_end),
                "integration_time": float(integration_time),
                "dark_counts": 100.0,
                "saturation": 65535.0,
                "peaks": None if peaks is None else [list(map(float, p)) for p in peaks],
            },
            schema=_SCHEMA,
        )

    def _check_settings_impl(self, candidate: dict[str, Any]) -> None:
        # the schema checks each value alone; the range also needs start < end
        start = candidate.get("wavelength_start")
        end = candidate.get("wavelength_end")
        if start is not None and end is not None and not start < end:
            raise InvalidSettingError(
                f"invalid setting 'wavelength_start': {start} nm is not below "
                f"wavelength_end {end} nm",
                self.name,
            )

    def wavelengths(self) -> np.ndarray:
        """The wavelength of every pixel, in nm."""
        key = (self._pixels, self._wavelength_start, self._wavelength_end)
        if key != self._grid_key:
            grid = np.linspace(key[1], key[2], key[0])
            # shared by every reading until the settings change: nobody may edit it
            grid.flags.writeable = False
            self._grid, self._grid_key = grid, key
        return self._grid

    def _perform_measurement_impl(self) -> np.ndarray:
        self._simulate_delay()
        wavelengths = self.wavelengths()
        peaks = None if self._peaks is None else tuple(Peak(*p) for p in self._peaks)
        emission = self.sample.spectrum(wavelengths, peaks)
        counts = self._add_noise(self._dark_counts + self._integration_time * emission)
        counts = np.clip(counts, 0.0, self._saturation)
        return np.column_stack((wavelengths, counts))
