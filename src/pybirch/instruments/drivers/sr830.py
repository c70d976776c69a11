"""Stanford Research SR830 lock-in amplifier: X, Y, R and Theta in one snapshot."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from pybirch.instruments.drivers.scpi import ScpiMixin
from pybirch.instruments.errors import InstrumentConnectionError, InstrumentError
from pybirch.instruments.visa import VisaBaseMeasurementInstrument

log = logging.getLogger(__name__)

#: GPIB address of an SR830 as shipped.
DEFAULT_ADAPTER = "GPIB0::8::INSTR"

#: Full-scale sensitivity in V for each ``SENS`` index.
SENSITIVITIES_V: tuple[float, ...] = (
    2e-9, 5e-9, 1e-8, 2e-8, 5e-8, 1e-7, 2e-7, 5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0,
)  # fmt: skip

#: Time constant in s for each ``OFLT`` index.
TIME_CONSTANTS_S: tuple[float, ...] = (
    1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3,
    1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4,
)  # fmt: skip

#: Standard event status bits that mean a command was refused (execution, command error).
_REJECTED_BITS = 16 | 32

_SCHEMA = {
    "sensitivity": {"enum": list(SENSITIVITIES_V)},
    "time_constant": {"enum": list(TIME_CONSTANTS_S)},
    "frequency": {
        "anyOf": [{"type": "null"}, {"type": "number", "minimum": 0.001, "maximum": 102000}]
    },
    "phase": {"type": "number", "minimum": -360, "maximum": 729.99},
}


class SR830(ScpiMixin, VisaBaseMeasurementInstrument):
    """SR830 lock-in: one row of X, Y, R (V) and Theta (deg) per reading.

    Settings are physical values: ``sensitivity`` (V, full scale), ``time_constant`` (s),
    ``phase`` (deg) and ``frequency`` (Hz of the internal reference; None leaves the
    reference alone, as with an external one). They are sent when the instrument is
    initialized and at once whenever they change while it is connected.
    """

    #: An SR830 answers ``Stanford_Research_Systems,SR830,s/n<serial>,ver<firmware>``.
    identification: ClassVar[str | None] = r"^Stanford_Research_Systems,SR830,"

    def __init__(
        self, name: str = "SR830", adapter: str = DEFAULT_ADAPTER, backend: str | None = None
    ) -> None:
        super().__init__(name, adapter, backend)
        #: ``*IDN?`` answer of the connected instrument.
        self.identity = ""
        self.data_columns = np.array(["X", "Y", "R", "Theta"])
        self.data_units = np.array(["V", "V", "V", "deg"])
        self._define_settings(
            {"sensitivity": 1.0, "time_constant": 0.1, "frequency": None, "phase": 0.0},
            schema=_SCHEMA,
        )

    def _connect_impl(self) -> bool:
        identity = self.query_text("*IDN?")
        if "SR830" not in identity:
            raise InstrumentConnectionError(
                f"expected an SR830 at {self.adapter!r}, but *IDN? answered {identity!r}",
                self.name,
            )
        self.identity = identity
        return True

    def _initialize_impl(self) -> None:
        stale = self.event_status()
        if stale & _REJECTED_BITS:
            log.warning("%s: discarded a standard event status of %d", self.name, stale)
        self._push_settings(self.settings)

    def _apply_settings_impl(self, values: dict[str, Any]) -> None:
        # a connected instrument follows at once; a refused value is then not stored
        if self.status:
            self._push_settings(values)

    def _push_settings(self, values: dict[str, Any]) -> None:
        commands = []
        if "sensitivity" in values:
            commands.append(f"SENS {SENSITIVITIES_V.index(values['sensitivity'])}")
        if "time_constant" in values:
            commands.append(f"OFLT {TIME_CONSTANTS_S.index(values['time_constant'])}")
        if values.get("frequency") is not None:
            commands.append(f"FREQ {float(values['frequency'])}")
        if "phase" in values:
            commands.append(f"PHAS {float(values['phase'])}")
        if commands:
            self.command(*commands)

    def command(self, *commands: str) -> None:
        """Send ``commands`` and raise :class:`InstrumentError` if the SR830 refused one."""
        for command in commands:
            self.write_command(command)
        status = self.event_status()
        if status & _REJECTED_BITS:
            raise InstrumentError(
                f"the SR830 rejected {' / '.join(commands)!r} (standard event status {status})",
                self.name,
            )

    def event_status(self) -> int:
        """Read (and so clear) the standard event status register."""
        answer = self.query_text("*ESR?")
        try:
            return int(answer)
        except ValueError:
            raise InstrumentError(
                f"cannot read the event status: {answer!r} is not an integer", self.name
            ) from None

    def output(self, channel: int) -> float:
        """One output: 1 = X, 2 = Y (V), 3 = R (V), 4 = Theta (deg)."""
        if channel not in (1, 2, 3, 4):
            raise ValueError(f"SR830 output channel must be 1 to 4, not {channel!r}")
        return self.query_float(f"OUTP? {channel}")

    def _perform_measurement_impl(self) -> np.ndarray:
        # SNAP? samples the four outputs at the same instant; four OUTP? would not
        return np.array([self.query_floats("SNAP? 1,2,3,4", 4)])
