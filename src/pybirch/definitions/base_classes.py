"""The PyBirch base classes a stored driver may derive from, and what each asks of it.

Stored code names its base class; this allow-list says which names are accepted, which kind
of instrument each makes (measurement or movement), and which members a driver must
define. The required members are the base class's abstract methods, read from the class
itself so they follow the templates: ``_perform_measurement_impl`` for the measurement
templates, ``perform_measurement`` for the bare :class:`~pybirch.instruments.Measurement`
contract, the ``position`` property for movements (none for the simulated movement
template, which keeps the position it is given).
"""

from __future__ import annotations

from dataclasses import dataclass

from pybirch.instruments import (
    BaseMeasurementInstrument,
    BaseMovementInstrument,
    FakeMeasurementInstrument,
    FakeMovementInstrument,
    Instrument,
    Measurement,
    Movement,
    VisaBaseMeasurementInstrument,
    VisaBaseMovementInstrument,
    VisaMeasurement,
    VisaMovement,
)

#: Modules that define the allowed base classes: stored code may import them from here.
BASE_CLASS_MODULES = (
    "pybirch.instruments",
    "pybirch.instruments.base",
    "pybirch.instruments.visa",
    "pybirch.instruments.fake",
)


@dataclass(frozen=True)
class BaseClass:
    """An allowed base class: its name, the kind it makes and the members a driver defines."""

    name: str
    cls: type[Instrument]

    @property
    def kind(self) -> str:
        """``measurement`` or ``movement``."""
        return self.cls.kind

    @property
    def required_members(self) -> tuple[str, ...]:
        """The abstract methods a concrete driver must define, sorted."""
        return tuple(sorted(getattr(self.cls, "__abstractmethods__", ())))


#: Every base class stored code may derive from, by name.
BASE_CLASSES: dict[str, BaseClass] = {
    cls.__name__: BaseClass(cls.__name__, cls)
    for cls in (
        Measurement,
        Movement,
        BaseMeasurementInstrument,
        BaseMovementInstrument,
        VisaMeasurement,
        VisaMovement,
        VisaBaseMeasurementInstrument,
        VisaBaseMovementInstrument,
        FakeMeasurementInstrument,
        FakeMovementInstrument,
    )
}

#: The two kinds of instrument a definition may be.
INSTRUMENT_TYPES = ("measurement", "movement")
