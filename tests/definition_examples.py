"""Driver code for the definition tests: the seed plan's lock-in as written there, and a stage."""

from __future__ import annotations

from typing import Any

#: The seed plan's example code, as written in ``seeds/001_3bf58fa869879f22.md``.
SEED_LOCKIN_CODE = '''
class MyLockIn(VisaBaseMeasurementInstrument):
    """Custom lock-in amplifier implementation."""
    
    def __init__(self, name="My Lock-In", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["X", "Y", "R", "Theta"])
        self.data_units = np.array(["V", "V", "V", "deg"])
        self._define_settings({
            "sensitivity": 1e-6,
            "time_constant": 0.1,
        })
    
    def _connect_impl(self) -> bool:
        try:
            idn = self.instrument.query("*IDN?")
            return "SR830" in idn or "SR860" in idn
        except:
            return False
    
    def _perform_measurement_impl(self) -> np.ndarray:
        x = float(self.instrument.query("OUTP? 1"))
        y = float(self.instrument.query("OUTP? 2"))
        r = float(self.instrument.query("OUTP? 3"))
        theta = float(self.instrument.query("OUTP? 4"))
        return np.array([[x, y, r, theta]])
'''  # noqa: W293 (the seed's trailing spaces are kept: it is posted as written)

#: The seed plan's example definition, as the browser would post it.
SEED_LOCKIN: dict[str, Any] = {
    "name": "MyLockIn",
    "display_name": "My Lock-In Amplifier",
    "instrument_type": "measurement",
    "category": "Lock-In Amplifiers",
    "manufacturer": "Stanford Research",
    "base_class": "VisaBaseMeasurementInstrument",
    "source_code": SEED_LOCKIN_CODE,
    "data_columns": ["X", "Y", "R", "Theta"],
    "data_units": ["V", "V", "V", "deg"],
    "settings_schema": {
        "type": "object",
        "properties": {
            "sensitivity": {"type": "number", "minimum": 1e-9, "maximum": 1},
            "time_constant": {"type": "number", "minimum": 0.001, "maximum": 30},
        },
    },
}

#: A movement driver with imports from the allow-list.
STAGE_CODE = '''
import math
from numpy import clip
from pybirch.instruments import VisaBaseMovementInstrument


class Stage(VisaBaseMovementInstrument):
    """A linear stage that answers POS? and takes MOVE <x>."""

    def __init__(self, name="Stage", adapter=""):
        super().__init__(name, adapter)
        self.position_units = "mm"

    @property
    def position(self) -> float:
        return float(self.instrument.query("POS?"))

    @position.setter
    def position(self, value: float) -> None:
        target = float(clip(value, -50.0, 50.0))
        if math.isfinite(target):
            self.instrument.write(f"MOVE {target}")
'''
