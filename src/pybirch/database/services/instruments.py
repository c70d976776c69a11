"""Physical instruments: registration, status history, last-known settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pybirch.database.errors import DatabaseError
from pybirch.database.models import Instrument, InstrumentStatus, utcnow
from pybirch.database.models.instruments import INSTRUMENT_TYPES
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.paging import Page


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


class InstrumentsMixin(ServiceCore):
    """Register instruments and follow their status."""

    def register_instrument(
        self, instrument: Any, lab_id: int | None = None, **fields: Any
    ) -> Instrument:
        """Record a PyBirch instrument, or refresh the record with the same name and lab."""
        described = {**describe_instrument(instrument), **fields}
        with self.session() as session:
            row = session.scalar(
                select(Instrument).where(
                    Instrument.name == described["name"], Instrument.lab_id == lab_id
                )
            )
            if row is None:
                row = Instrument(lab_id=lab_id, **described)
                session.add(row)
            else:
                for name, value in described.items():
                    setattr(row, name, value)
            session.flush()
            return row

    def create_instrument(self, name: str, instrument_type: str, **fields: Any) -> Instrument:
        """A new instrument record."""
        _check_type(instrument_type)
        return self._create(Instrument, name=name, instrument_type=instrument_type, **fields)

    def get_instrument(self, instrument_id: int) -> Instrument:
        """The instrument with this id."""
        return self._fetch(Instrument, instrument_id)

    def get_instrument_by_name(self, name: str, lab_id: int | None = None) -> Instrument | None:
        """The instrument called ``name`` in ``lab_id``, or None."""
        with self.session() as session:
            return session.scalar(
                select(Instrument).where(Instrument.name == name, Instrument.lab_id == lab_id)
            )

    def update_instrument(self, instrument_id: int, **fields: Any) -> Instrument:
        """Change an instrument's fields."""
        if "instrument_type" in fields:
            _check_type(fields["instrument_type"])
        return self._update(Instrument, instrument_id, **fields)

    def delete_instrument(self, instrument_id: int) -> None:
        """Delete an instrument and its status history."""
        self._delete(Instrument, instrument_id)

    def update_instrument_status(
        self,
        equipment_id: int,
        status: str,
        *,
        current_settings: dict[str, Any] | None = None,
        error_message: str | None = None,
    ) -> InstrumentStatus:
        """Record a status observation; ``connected`` also stamps ``last_connected``."""
        now = utcnow()
        with self.session() as session:
            instrument = self._get(session, Instrument, equipment_id)
            instrument.status = status
            if status == "connected":
                instrument.last_connected = now
            if current_settings is not None:
                instrument.last_settings = dict(current_settings)
            observation = InstrumentStatus(
                instrument_id=equipment_id,
                status=status,
                last_connected=instrument.last_connected,
                current_settings=current_settings,
                error_message=error_message,
                updated_at=now,
            )
            session.add(observation)
            session.flush()
            return observation

    def get_instrument_status_history(
        self, instrument_id: int, limit: int = 100
    ) -> list[InstrumentStatus]:
        """The newest ``limit`` status observations, newest first."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(InstrumentStatus)
                    .where(InstrumentStatus.instrument_id == instrument_id)
                    .order_by(InstrumentStatus.id.desc())
                    .limit(limit)
                )
            )

    def get_instruments_by_type(
        self, equipment_type: str, lab_id: int | None = None
    ) -> list[Instrument]:
        """Every instrument of type ``measurement`` or ``movement``, by name."""
        _check_type(equipment_type)
        statement = self._filtered(Instrument, instrument_type=equipment_type, lab_id=lab_id)
        with self.session() as session:
            return list(session.scalars(statement.order_by(Instrument.name)))

    def search_instruments(
        self,
        text: str | None = None,
        *,
        lab_id: int | None = None,
        instrument_type: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Instrument]:
        """Instruments matching the filters, by name."""
        return self._search(
            self._filtered(
                Instrument, lab_id=lab_id, instrument_type=instrument_type, status=status
            ).order_by(Instrument.name),
            text=text,
            text_columns=(
                Instrument.name,
                Instrument.manufacturer,
                Instrument.model,
                Instrument.serial_number,
            ),
            page=page,
            per_page=per_page,
        )


def _check_type(instrument_type: str) -> None:
    if instrument_type not in INSTRUMENT_TYPES:
        raise DatabaseError(
            f"unknown instrument type {instrument_type!r}; use one of {INSTRUMENT_TYPES}"
        )
