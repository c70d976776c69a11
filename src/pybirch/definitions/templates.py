"""A short working driver per allowed base class: where a new stored definition starts.

Each template is complete (it validates as it is) and small enough to read at a glance:
the class, its columns or position, one setting and the one method the base class leaves
abstract. The web's "New definition" page offers them by base class name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DefinitionTemplate:
    """A starting point for a definition: its code and the fields that go with it."""

    base_class: str
    #: What this base class is for, in one line.
    summary: str
    name: str
    source_code: str
    category: str = ""
    data_columns: list[str] = field(default_factory=list)
    data_units: list[str] = field(default_factory=list)
    settings_schema: dict[str, Any] | None = None
    default_settings: dict[str, Any] | None = None

    @property
    def instrument_type(self) -> str:
        """``measurement`` or ``movement``, from the base class."""
        from pybirch.definitions.base_classes import BASE_CLASSES

        return BASE_CLASSES[self.base_class].kind


def _number_setting(name: str, default: float, minimum: float, maximum: float) -> dict[str, Any]:
    """The schema and default of one number setting, as a template's fields."""
    schema = {"type": "number", "minimum": minimum, "maximum": maximum, "default": default}
    return {
        "settings_schema": {"type": "object", "properties": {name: schema}},
        "default_settings": {name: default},
    }


_MEASUREMENT = '''import numpy as np
from pybirch.instruments import Measurement


class {name}(Measurement):
    """A thermometer read in one call: perform_measurement returns one row per reading."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["T"])
        self.data_units = np.array(["K"])
        self.offset = 0.0

    def perform_measurement(self):
        return np.array([[295.0 + self.offset]])
'''

_MOVEMENT = '''from pybirch.instruments import Movement


class {name}(Movement):
    """A stage that is where it was last sent (replace with the controller's calls)."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.position_units = "mm"
        self.target = 0.0

    @property
    def position(self):
        return self.target

    @position.setter
    def position(self, value):
        self.target = float(value)
'''

_BASE_MEASUREMENT = '''import numpy as np
from pybirch.instruments import BaseMeasurementInstrument


class {name}(BaseMeasurementInstrument):
    """A voltmeter with a gain setting; connect, initialize and shut down are hooks."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["V"])
        self.data_units = np.array(["V"])
        self._define_settings({{"gain": 1.0}})

    def _connect_impl(self):
        return True

    def _perform_measurement_impl(self):
        return np.array([[0.5 * self.settings["gain"]]])
'''

_BASE_MOVEMENT = '''from pybirch.instruments import BaseMovementInstrument


class {name}(BaseMovementInstrument):
    """A rotation stage with a speed setting and a soft limit."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.position_units = "deg"
        self.angle = 0.0
        self._define_settings({{"speed": 10.0}})

    def _connect_impl(self):
        return True

    @property
    def position(self):
        return self.angle

    @position.setter
    def position(self, value):
        self.angle = min(max(float(value), -180.0), 180.0)
'''

_VISA_MEASUREMENT = '''import numpy as np
from pybirch.instruments import VisaMeasurement


class {name}(VisaMeasurement):
    """A SCPI multimeter: every reading is one MEAS:VOLT:DC? query."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["V"])
        self.data_units = np.array(["V"])

    def perform_measurement(self):
        volts = float(self.instrument.query("MEAS:VOLT:DC?"))
        return np.array([[volts]])
'''

_VISA_MOVEMENT = '''from pybirch.instruments import VisaMovement


class {name}(VisaMovement):
    """A SCPI stage controller: POS? reads the position, MOVE <x> sets it."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.position_units = "mm"

    @property
    def position(self):
        return float(self.instrument.query("POS?"))

    @position.setter
    def position(self, value):
        self.instrument.write(f"MOVE {{float(value)}}")
'''

_VISA_BASE_MEASUREMENT = '''import numpy as np
from pybirch.instruments import VisaBaseMeasurementInstrument


class {name}(VisaBaseMeasurementInstrument):
    """A lock-in amplifier: checks *IDN? on connect, reads X and Y with OUTP?."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = np.array(["X", "Y"])
        self.data_units = np.array(["V", "V"])
        self._define_settings({{"time_constant": 0.1}})

    def _connect_impl(self):
        return "SR830" in self.instrument.query("*IDN?")

    def _perform_measurement_impl(self):
        x = float(self.instrument.query("OUTP? 1"))
        y = float(self.instrument.query("OUTP? 2"))
        return np.array([[x, y]])
'''

_VISA_BASE_MOVEMENT = '''from pybirch.instruments import VisaBaseMovementInstrument


class {name}(VisaBaseMovementInstrument):
    """A magnet power supply: the field is its position, set with FIELD <B>."""

    def __init__(self, name="{name}", adapter=""):
        super().__init__(name, adapter)
        self.position_units = "T"
        self._define_settings({{"ramp_rate": 0.01}})

    def _connect_impl(self):
        return bool(self.instrument.query("*IDN?"))

    @property
    def position(self):
        return float(self.instrument.query("FIELD?"))

    @position.setter
    def position(self, value):
        self.instrument.write(f"FIELD {{float(value)}}")
'''

_FAKE_MEASUREMENT = '''import numpy as np
from pybirch.instruments import FakeMeasurementInstrument


class {name}(FakeMeasurementInstrument):
    """A simulated photodiode with noise, for trying scans without hardware."""

    def __init__(self, name="{name}"):
        super().__init__(name, noise=0.01)
        self.data_columns = np.array(["I"])
        self.data_units = np.array(["A"])

    def _perform_measurement_impl(self):
        return np.array([[1e-6]])
'''

_FAKE_MOVEMENT = '''from pybirch.instruments import FakeMovementInstrument


class {name}(FakeMovementInstrument):
    """A simulated piezo stage: it keeps the position it is sent to."""

    def __init__(self, name="{name}"):
        super().__init__(name, delay=0.001)
        self.position_units = "um"
'''


def _template(
    base_class: str, summary: str, name: str, code: str, **fields: Any
) -> DefinitionTemplate:
    return DefinitionTemplate(base_class, summary, name, code.format(name=name), **fields)


#: One template per base class in :data:`~pybirch.definitions.base_classes.BASE_CLASSES`.
TEMPLATES: dict[str, DefinitionTemplate] = {
    template.base_class: template
    for template in (
        _template(
            "Measurement",
            "The bare measurement contract: you write perform_measurement.",
            "Thermometer",
            _MEASUREMENT,
            category="Thermometers",
            data_columns=["T"],
            data_units=["K"],
        ),
        _template(
            "Movement",
            "The bare movement contract: you write the position property.",
            "LinearStage",
            _MOVEMENT,
            category="Stages",
        ),
        _template(
            "BaseMeasurementInstrument",
            "A measurement with connect/initialize/shutdown hooks and settings.",
            "Voltmeter",
            _BASE_MEASUREMENT,
            category="Voltmeters",
            data_columns=["V"],
            data_units=["V"],
            **_number_setting("gain", 1.0, 0.001, 1000.0),
        ),
        _template(
            "BaseMovementInstrument",
            "A movement with connect/initialize/shutdown hooks and settings.",
            "RotationStage",
            _BASE_MOVEMENT,
            category="Stages",
            **_number_setting("speed", 10.0, 0.1, 90.0),
        ),
        _template(
            "VisaMeasurement",
            "A measurement over VISA (self.instrument is the open resource).",
            "Multimeter",
            _VISA_MEASUREMENT,
            category="Multimeters",
            data_columns=["V"],
            data_units=["V"],
        ),
        _template(
            "VisaMovement",
            "A movement over VISA.",
            "StageController",
            _VISA_MOVEMENT,
            category="Stages",
        ),
        _template(
            "VisaBaseMeasurementInstrument",
            "A VISA measurement with hooks and settings (like the SR830 lock-in).",
            "LockIn",
            _VISA_BASE_MEASUREMENT,
            category="Lock-In Amplifiers",
            data_columns=["X", "Y"],
            data_units=["V", "V"],
            **_number_setting("time_constant", 0.1, 0.00001, 30.0),
        ),
        _template(
            "VisaBaseMovementInstrument",
            "A VISA movement with hooks and settings.",
            "MagnetSupply",
            _VISA_BASE_MOVEMENT,
            category="Magnets",
            **_number_setting("ramp_rate", 0.01, 0.0001, 0.1),
        ),
        _template(
            "FakeMeasurementInstrument",
            "A simulated measurement with delay and noise, for trying scans.",
            "SimulatedPhotodiode",
            _FAKE_MEASUREMENT,
            category="Simulated",
            data_columns=["I"],
            data_units=["A"],
        ),
        _template(
            "FakeMovementInstrument",
            "A simulated movement that keeps its position.",
            "SimulatedPiezo",
            _FAKE_MOVEMENT,
            category="Simulated",
        ),
    )
}
