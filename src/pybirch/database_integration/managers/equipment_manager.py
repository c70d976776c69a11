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


class EquipmentManager:
    """Bridges PyBirch instruments and the lab's instrument records."""

    def __init__(self, db: DatabaseService, lab_id: int | None = None) -> None:
        self.db = db
        self.lab_id = lab_id

    def register(self, instrument: Instrument, **fields: Any) -> InstrumentRecord:
        """Record an instrument (or refresh its record) with its class, adapter and settings."""
        return self.db.register_instrument(instrument, self.lab_id, **fields)

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
        record = self.db.get_instrument_by_name(name, self.lab_id)
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
