"""EquipmentManager: instruments registered in the database, their status and settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.models import Instrument as InstrumentRecord
from pybirch.database.models import InstrumentStatus
from pybirch.instruments.base import Instrument

log = logging.getLogger(__name__)


def describe_instrument(instrument: Any) -> dict[str, Any]:
    """Instrument columns from a PyBirch instrument object (duck-typed)."""
    kind = type(instrument)
    adapter = getattr(instrument, "adapter", None)
    settings = getattr(instrument, "settings", None)
    return {
        "name": instrument.name,
        "instrument_type": "movement" if hasattr(instrument, "position_column") else "measurement",
        "pybirch_class": f"{kind.__module__}.{kind.__qualname__}",
        "adapter": None if adapter is None else str(adapter),
        "last_settings": dict(settings) if isinstance(settings, dict) else {},
    }


class EquipmentManager:
    """Bridges PyBirch instruments and the lab's instrument records.

    With ``computer_id`` (the computer these instruments are attached to) every
    instrument is registered on that computer, so two computers may each have one of
    the same name; without, as the lab's instrument bound to no computer.
    """

    def __init__(
        self, db: DatabaseService, lab_id: int | None = None, computer_id: int | None = None
    ) -> None:
        self.db = db
        self.lab_id = lab_id
        self.computer_id = computer_id

    def register(self, instrument: Instrument, **fields: Any) -> InstrumentRecord:
        """Record an instrument (or refresh its record) with its class, adapter and settings."""
        described = {**describe_instrument(instrument), **fields}
        if self.computer_id is not None:
            return self.db.register_instrument_on_computer(described, self.lab_id, self.computer_id)
        return self.db.register_instrument(described, self.lab_id)

    def register_on_computer(self, instrument: Instrument, computer_id: int) -> InstrumentRecord:
        """Record an instrument attached to that computer (the lab's one of that name there)."""
        return self.db.register_instrument_on_computer(
            describe_instrument(instrument), self.lab_id, computer_id
        )

    def register_all(self, instruments: Iterable[Instrument]) -> list[InstrumentRecord]:
        """Register several instruments."""
        return [self.register(instrument) for instrument in instruments]

    def update_status(
        self,
        record_id: int,
        status: str,
        instrument: Instrument | None = None,
        error: str | None = None,
    ) -> InstrumentStatus:
        """Record a status; with ``instrument`` its current settings become the last known."""
        settings = None if instrument is None else dict(instrument.settings)
        return self.db.update_instrument_status(
            record_id, status, current_settings=settings, error_message=error
        )

    def check(self, record_id: int, instrument: Instrument) -> InstrumentStatus:
        """Ask the instrument whether it is connected and record the answer."""
        try:
            connected = bool(instrument.connect())
        except Exception as exc:  # an instrument's own failure is the status we record
            log.warning("instrument %s failed its connection check", instrument.name, exc_info=True)
            return self.update_status(record_id, "error", error=f"{type(exc).__name__}: {exc}")
        return self.update_status(
            record_id,
            "connected" if connected else "disconnected",
            instrument if connected else None,
        )

    def last_settings(self, name: str) -> dict[str, Any]:
        """The settings an instrument last ran with ({} if unknown)."""
        record = self.db.get_instrument_by_name(name, self.lab_id, computer_id=self.computer_id)
        return {} if record is None else dict(record.last_settings or {})

    def apply_last_settings(self, instrument: Instrument) -> dict[str, Any]:
        """Give an instrument the settings it last ran with; returns them."""
        settings = self.last_settings(instrument.name)
        if settings:
            instrument.settings = settings
        return settings

    def by_type(self, instrument_type: str) -> list[InstrumentRecord]:
        """The lab's instruments of type ``measurement`` or ``movement``."""
        return self.db.get_instruments_by_type(instrument_type, self.lab_id)
