"""Simulated instruments sharing one simulated sample, and pyvisa-sim definitions."""

from pybirch.instruments.simulated.current_source import FakeCurrentSource
from pybirch.instruments.simulated.lockin import FakeLockin
from pybirch.instruments.simulated.movement import SimulatedMovement
from pybirch.instruments.simulated.multimeter import FakeMultimeter
from pybirch.instruments.simulated.physics import Peak, SimulatedSample, Spot, default_sample
from pybirch.instruments.simulated.piezo import FakePiezo
from pybirch.instruments.simulated.spectrometer import FakeSpectrometer
from pybirch.instruments.simulated.stage import FakeStage
from pybirch.instruments.simulated.temperature_controller import FakeTemperatureController
from pybirch.instruments.simulated.visa_sim import (
    FAULTY_SR830_RESOURCE,
    KEITHLEY2400_RESOURCE,
    SILENT_INSTRUMENT_RESOURCE,
    SIM_BACKEND,
    SIM_DEFINITIONS,
    SR830_RESOURCE,
    UNKNOWN_INSTRUMENT_RESOURCE,
)

__all__ = [
    "FAULTY_SR830_RESOURCE",
    "KEITHLEY2400_RESOURCE",
    "SILENT_INSTRUMENT_RESOURCE",
    "SIM_BACKEND",
    "SIM_DEFINITIONS",
    "SR830_RESOURCE",
    "UNKNOWN_INSTRUMENT_RESOURCE",
    "FakeCurrentSource",
    "FakeLockin",
    "FakeMultimeter",
    "FakePiezo",
    "FakeSpectrometer",
    "FakeStage",
    "FakeTemperatureController",
    "Peak",
    "SimulatedMovement",
    "SimulatedSample",
    "Spot",
    "default_sample",
]
