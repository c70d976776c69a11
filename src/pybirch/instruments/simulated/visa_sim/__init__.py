"""pyvisa-sim definitions of the SCPI instruments PyBirch's drivers are tested against."""

from pathlib import Path

#: Absolute path of the pyvisa-sim definitions file.
SIM_DEFINITIONS = Path(__file__).resolve().with_name("instruments.yaml")

#: VISA backend string that opens the simulated instruments (``backend=SIM_BACKEND``).
SIM_BACKEND = f"{SIM_DEFINITIONS}@sim"

#: Simulated Keithley 2400 source-meter.
KEITHLEY2400_RESOURCE = "GPIB0::24::INSTR"
#: Simulated SR830 lock-in amplifier.
SR830_RESOURCE = "GPIB0::8::INSTR"
#: Simulated SR830 that identifies correctly but answers garbage or nothing.
FAULTY_SR830_RESOURCE = "GPIB0::9::INSTR"
#: Simulated oscilloscope that answers ``*IDN?`` but has no PyBirch driver.
UNKNOWN_INSTRUMENT_RESOURCE = "USB0::0x1AB1::0x04CE::DS1ZA000000001::0::INSTR"
#: Simulated instrument that never answers (every read times out).
SILENT_INSTRUMENT_RESOURCE = "GPIB0::15::INSTR"

__all__ = [
    "FAULTY_SR830_RESOURCE",
    "KEITHLEY2400_RESOURCE",
    "SILENT_INSTRUMENT_RESOURCE",
    "SIM_BACKEND",
    "SIM_DEFINITIONS",
    "SR830_RESOURCE",
    "UNKNOWN_INSTRUMENT_RESOURCE",
]
