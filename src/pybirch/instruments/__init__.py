"""Instrument drivers: the contracts the engine uses, templates for authors, VISA and fakes."""

from pybirch.instruments.base import (
    BaseMeasurementInstrument,
    BaseMovementInstrument,
    Instrument,
    Measurement,
    Movement,
    column_label,
)
from pybirch.instruments.errors import (
    AdapterError,
    InstrumentConnectionError,
    InstrumentError,
    InvalidSettingError,
    MeasurementShapeError,
    MovementLimitError,
    SettingsError,
    UnknownSettingError,
)
from pybirch.instruments.fake import FakeMeasurementInstrument, FakeMovementInstrument
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

__all__ = [
    "AdapterError",
    "BaseMeasurementInstrument",
    "BaseMovementInstrument",
    "FakeMeasurementInstrument",
    "FakeMovementInstrument",
    "Instrument",
    "InstrumentConnectionError",
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
    "instrument_from_dict",
    "resolve_instrument_class",
    "resource_manager",
]
