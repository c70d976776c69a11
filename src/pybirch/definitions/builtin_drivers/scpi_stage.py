"""A SCPI linear stage: moves to an absolute position in mm and reads it back."""

from pybirch.instruments import VisaBaseMovementInstrument


class ScpiStage(VisaBaseMovementInstrument):
    """Linear stage driven by ``POS <mm>``, read by ``POS?``, within 0 to 100 mm."""

    def __init__(self, name="SCPI Stage", adapter="", backend=None):
        super().__init__(name, adapter, backend)
        self.position_column = "x"
        self.position_units = "mm"
        self.limits = (0.0, 100.0)
        self._define_settings({"velocity": 5.0})

    def _connect_impl(self):
        return bool(self.instrument.query("*IDN?").strip())

    def _initialize_impl(self):
        self.instrument.write(f"VEL {self.settings['velocity']}")

    @property
    def position(self):
        return float(self.instrument.query("POS?"))

    @position.setter
    def position(self, value):
        self.check_positions([value])
        self.instrument.write(f"POS {float(value)}")
