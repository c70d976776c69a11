"""Instrument drivers: the contracts the engine uses, templates for authors, VISA and fakes.

Also what a lab computer needs to discover drivers and instruments: its own driver files
(:func:`load_driver_files`), the catalogue of driver classes (:func:`known_driver_classes`),
matching an ``*IDN?`` answer to a driver (:func:`match_driver`) and a VISA resource scan
(:func:`scan_visa_resources`).
"""

from pybirch.instruments.base import (
    BaseMeasurementInstrument,
    BaseMovementInstrument,
    Instrument,
    Measurement,
    Movement,
    column_label,
)
from pybirch.instruments.driver_catalogue import driver_path, known_driver_classes
from pybirch.instruments.driver_files import (
    DriverFile,
    DriverFileFailure,
    DriverFiles,
    default_drivers_dir,
    load_driver_files,
    unload_driver_files,
)
from pybirch.instruments.errors import (
    AdapterError,
    DriverFilesError,
    IdentificationPatternError,
    InstrumentConnectionError,
    InstrumentDisconnectedError,
    InstrumentError,
    InvalidSettingError,
    MeasurementShapeError,
    MovementLimitError,
    SettingsError,
    UnknownSettingError,
)
from pybirch.instruments.fake import FakeMeasurementInstrument, FakeMovementInstrument
from pybirch.instruments.identification import (
    Identity,
    match_driver,
    matching_drivers,
    parse_idn,
)
from pybirch.instruments.registry import (
    UnknownInstrumentClassError,
    instrument_from_dict,
    resolve_instrument_class,
)
from pybirch.instruments.visa import (
    VisaBaseMeasurementInstrument,
    VisaBaseMovementInstrument,
    VisaMeasurement,
    VisaMovement,
    resource_manager,
)
from pybirch.instruments.visa_discovery import FoundInstrument, scan_visa_resources

__all__ = [
    "AdapterError",
    "BaseMeasurementInstrument",
    "BaseMovementInstrument",
    "DriverFile",
    "DriverFileFailure",
    "DriverFiles",
    "DriverFilesError",
    "FakeMeasurementInstrument",
    "FakeMovementInstrument",
    "FoundInstrument",
    "IdentificationPatternError",
    "Identity",
    "Instrument",
    "InstrumentConnectionError",
    "InstrumentDisconnectedError",
    "InstrumentError",
    "InvalidSettingError",
    "Measurement",
    "MeasurementShapeError",
    "Movement",
    "MovementLimitError",
    "SettingsError",
    "UnknownInstrumentClassError",
    "UnknownSettingError",
    "VisaBaseMeasurementInstrument",
    "VisaBaseMovementInstrument",
    "VisaMeasurement",
    "VisaMovement",
    "column_label",
    "default_drivers_dir",
    "driver_path",
    "instrument_from_dict",
    "known_driver_classes",
    "load_driver_files",
    "match_driver",
    "matching_drivers",
    "parse_idn",
    "resolve_instrument_class",
    "resource_manager",
    "scan_visa_resources",
    "unload_driver_files",
]
