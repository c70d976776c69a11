"""Keithley 2400 source-meter: a current source and a voltmeter on one GPIB address.

The two drivers talk to the same instrument, so they share an adapter; the scan engine never
runs two instruments with the same adapter at once. Commands are checked against the
2400's error queue (``:SYST:ERR?``), which is how the instrument reports a rejected command.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from pybirch.instruments.drivers.scpi import ScpiMixin, parse_float
from pybirch.instruments.errors import InstrumentConnectionError, InstrumentError
from pybirch.instruments.visa import VisaBaseMeasurementInstrument, VisaBaseMovementInstrument

log = logging.getLogger(__name__)

#: GPIB address of a 2400 as shipped.
DEFAULT_ADAPTER = "GPIB0::24::INSTR"

#: The 2400 keeps at most this many errors; a longer drain means the answers are not errors.
_ERROR_QUEUE_DEPTH = 10


class Keithley2400Mixin(ScpiMixin):
    """What both 2400 drivers do: check the identity, read the error queue."""

    #: A 2400 answers ``KEITHLEY INSTRUMENTS INC.,MODEL 2400,<serial>,<firmware>``; the
    #: comma ends the model field, so a 2400-LV or a 2401 is not taken for a 2400.
    identification: ClassVar[str | None] = r"^KEITHLEY INSTRUMENTS INC\.,MODEL 2400,"

    #: ``*IDN?`` answer of the connected instrument.
    identity: str = ""

    def _connect_impl(self) -> bool:
        identity = self.query_text("*IDN?")
        if "2400" not in identity:
            raise InstrumentConnectionError(
                f"expected a Keithley 2400 at {self.adapter!r}, but *IDN? answered {identity!r}",
                self.name,
            )
        self.identity = identity
        return True

    def read_errors(self) -> list[str]:
        """Empty the error queue and return its entries (``code,"message"``), oldest first."""
        errors: list[str] = []
        for _ in range(_ERROR_QUEUE_DEPTH + 1):
            entry = self.query_text(":SYST:ERR?")
            code = entry.partition(",")[0]
            try:
                if int(code) == 0:
                    return errors
            except ValueError:
                raise InstrumentError(
                    f"cannot read the error queue: {entry!r} is not an error entry", self.name
                ) from None
            errors.append(entry)
        raise InstrumentError(
            f"the error queue does not empty after {len(errors)} reads: {errors[-1]!r}", self.name
        )

    def command(self, command: str) -> None:
        """Send ``command`` and raise :class:`InstrumentError` if the 2400 rejected it."""
        self.write_command(command)
        errors = self.read_errors()
        if errors:
            raise InstrumentError(f"the 2400 rejected {command!r}: {'; '.join(errors)}", self.name)

    def _discard_stale_errors(self) -> None:
        # errors queued before this session are not about our commands: report, then drop
        stale = self.read_errors()
        if stale:
            log.warning("%s: discarded errors left in the queue: %s", self.name, stale)


class Keithley2400CurrentSource(Keithley2400Mixin, VisaBaseMovementInstrument):
    """The 2400 sourcing current: position is the output current in A."""

    def __init__(
        self,
        name: str = "Keithley 2400 Current Source",
        adapter: str = DEFAULT_ADAPTER,
        backend: str | None = None,
    ) -> None:
        super().__init__(name, adapter, backend)
        self.position_column = "current"
        self.position_units = "A"
        self.limits = (-1.05, 1.05)
        self._define_settings(
            {"compliance_voltage": 21.0},
            schema={"compliance_voltage": {"type": "number", "minimum": 0.2, "maximum": 210}},
        )

    def _initialize_impl(self) -> None:
        self._discard_stale_errors()
        self.command(":SOUR:FUNC CURR")
        self._push_settings(self.settings)
        self.command(":OUTP 1")

    def _shutdown_impl(self) -> None:
        self.command(":OUTP 0")

    def _push_settings(self, values: dict[str, Any]) -> None:
        if "compliance_voltage" in values:
            self.command(f":SENS:VOLT:PROT {values['compliance_voltage']}")

    def _apply_settings_impl(self, values: dict[str, Any]) -> None:
        # a connected instrument follows at once; a refused value is then not stored
        if self.status:
            self._push_settings(values)

    @property
    def position(self) -> float:
        """The source current the 2400 reports, in A."""
        return self.query_float(":SOUR:CURR?")

    @position.setter
    def position(self, value: float) -> None:
        self.check_positions((value,))
        self.command(f":SOUR:CURR {float(value):.6E}")


class Keithley2400Voltmeter(Keithley2400Mixin, VisaBaseMeasurementInstrument):
    """The 2400 measuring voltage: one row, ``voltage`` in V."""

    def __init__(
        self,
        name: str = "Keithley 2400 Voltmeter",
        adapter: str = DEFAULT_ADAPTER,
        backend: str | None = None,
    ) -> None:
        super().__init__(name, adapter, backend)
        self.data_columns = np.array(["voltage"])
        self.data_units = np.array(["V"])
        self._define_settings(
            {"nplc": 1.0},
            schema={"nplc": {"type": "number", "minimum": 0.01, "maximum": 10}},
        )

    def _initialize_impl(self) -> None:
        self._discard_stale_errors()
        self._push_settings(self.settings)

    def _push_settings(self, values: dict[str, Any]) -> None:
        if "nplc" in values:
            self.command(f":SENS:VOLT:NPLC {values['nplc']}")

    def _apply_settings_impl(self, values: dict[str, Any]) -> None:
        # a connected instrument follows at once; a refused value is then not stored
        if self.status:
            self._push_settings(values)

    def _perform_measurement_impl(self) -> np.ndarray:
        # :READ? answers VOLT,CURR,RES,TIME,STAT by default; voltage always comes first
        answer = self.query_text(":READ?")
        voltage = parse_float(answer.split(",")[0], "the voltage from ':READ?'", self.name)
        return np.array([[voltage]])
