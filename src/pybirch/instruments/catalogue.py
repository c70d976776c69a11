"""What instruments a process can drive, and their description for a scan builder elsewhere.

A web server builds scans for instruments it may not hold itself (those of a lab computer's
agent): :class:`InstrumentInfo` is the plain description that crosses that gap.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from pybirch.instruments.base import Instrument, Measurement, Movement


@dataclass(frozen=True)
class InstrumentInfo:
    """An instrument as a scan builder needs to know it: name, kind, columns, units, limits.

    ``settings_schema`` is the JSON schema of its settings (None if the driver declares none):
    the builder makes a form of it. An agent older than the field sends none.
    """

    name: str
    kind: str  # "movement" or "measurement"
    type: str
    columns: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    position_units: str = ""
    limits: tuple[float, float] | None = None
    settings_schema: dict[str, Any] | None = None

    @classmethod
    def describe(cls, instrument: Instrument) -> InstrumentInfo:
        """The description of a live instrument."""
        described = instrument.serialize()
        limits = described.get("limits")
        return cls(
            name=instrument.name,
            kind=instrument.kind,
            type=type(instrument).__name__,
            columns=instrument.columns() if isinstance(instrument, Measurement) else [],
            settings=described.get("settings", {}),
            position_units=described.get("position_units", ""),
            limits=None if limits is None else (float(limits[0]), float(limits[1])),
            settings_schema=instrument.settings_schema,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstrumentInfo:
        """Read a :meth:`to_dict` document; KeyError or TypeError if it is not one."""
        limits = data.get("limits")
        schema = data.get("settings_schema")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            type=str(data.get("type", "")),
            columns=[str(c) for c in data.get("columns", [])],
            settings=dict(data.get("settings", {})),
            position_units=str(data.get("position_units", "")),
            limits=None if limits is None else (float(limits[0]), float(limits[1])),
            # only an object is a schema; anything else is as good as none
            settings_schema=dict(schema) if isinstance(schema, dict) else None,
        )


class InstrumentSet:
    """Instruments one process can drive, by name (thread-safe)."""

    def __init__(self, *instruments: Instrument) -> None:
        self._instruments: dict[str, Instrument] = {}
        self._lock = threading.Lock()
        self.add(*instruments)

    def add(self, *instruments: Instrument) -> None:
        """Make instruments available to scans built elsewhere."""
        with self._lock:
            for instrument in instruments:
                self._instruments[instrument.name] = instrument

    def add_configured(self, instrument: Instrument) -> None:
        """Offer an instrument set up from its binding (the seed plan's name for ``add``)."""
        self.add(instrument)

    def get(self, name: str) -> Instrument | None:
        """The instrument called ``name``, if available here."""
        with self._lock:
            return self._instruments.get(name)

    def all(self) -> list[Instrument]:
        """Every instrument, by name."""
        with self._lock:
            return sorted(self._instruments.values(), key=lambda i: i.name)

    def movements(self) -> list[InstrumentInfo]:
        """Descriptions of the instruments that move (stages, sources), by name."""
        return [InstrumentInfo.describe(i) for i in self.all() if isinstance(i, Movement)]

    def measurements(self) -> list[InstrumentInfo]:
        """Descriptions of the instruments that measure, by name."""
        return [InstrumentInfo.describe(i) for i in self.all() if isinstance(i, Measurement)]

    def catalogue(self) -> list[InstrumentInfo]:
        """Descriptions of every instrument, by name."""
        return [InstrumentInfo.describe(i) for i in self.all()]
