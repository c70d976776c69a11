"""Drivers for real instruments over VISA, tested against pyvisa-sim."""

from pybirch.instruments.drivers.keithley2400 import (
    Keithley2400CurrentSource,
    Keithley2400Mixin,
    Keithley2400Voltmeter,
)
from pybirch.instruments.drivers.scpi import ScpiMixin, parse_float, parse_floats
from pybirch.instruments.drivers.sr830 import SENSITIVITIES_V, SR830, TIME_CONSTANTS_S

__all__ = [
    "SENSITIVITIES_V",
    "SR830",
    "TIME_CONSTANTS_S",
    "Keithley2400CurrentSource",
    "Keithley2400Mixin",
    "Keithley2400Voltmeter",
    "ScpiMixin",
    "parse_float",
    "parse_floats",
]
