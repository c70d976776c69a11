"""Physical instruments of a lab and the history of their status."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, BigId, Updated, utcnow

if TYPE_CHECKING:
    from pybirch.database.models.definitions import ComputerBinding, InstrumentDefinition

INSTRUMENT_TYPES = ("measurement", "movement")


class Instrument(Base, Updated):
    """One physical instrument (a serial number on a bench), not a driver.

    Names are not unique in a lab: two computers may each have a "Lock-in". An
    instrument is told apart by the computer it is bound to (:class:`ComputerBinding`).
    """

    __tablename__ = "instruments"
    __table_args__ = (Index("ix_instruments_lab_id_name", "lab_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), default=None
    )
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("instrument_definitions.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(255))
    #: ``measurement`` or ``movement``.
    instrument_type: Mapped[str] = mapped_column(String(20), index=True)
    #: Import path of the driver class, e.g. ``pybirch.instruments.drivers.sr830.SR830``.
    pybirch_class: Mapped[str] = mapped_column(String(255), default="")
    manufacturer: Mapped[str | None] = mapped_column(String(255), default=None)
    model: Mapped[str | None] = mapped_column(String(255), default=None)
    serial_number: Mapped[str | None] = mapped_column(String(255), default=None)
    adapter: Mapped[str | None] = mapped_column(String(255), default=None)
    location: Mapped[str | None] = mapped_column(String(255), default=None)
    #: connected, disconnected, error, busy, maintenance...
    status: Mapped[str] = mapped_column(String(50), default="unknown")
    calibration_date: Mapped[date | None] = mapped_column(default=None)
    calibration_due: Mapped[date | None] = mapped_column(default=None)
    maintenance_interval_days: Mapped[int | None] = mapped_column(default=None)
    next_maintenance: Mapped[date | None] = mapped_column(default=None)
    #: The settings it last ran with, to set it up again quickly.
    last_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_connected: Mapped[datetime | None] = mapped_column(default=None)
    specifications: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    status_history: Mapped[list[InstrumentStatus]] = relationship(
        back_populates="instrument", order_by="InstrumentStatus.id", cascade="all, delete-orphan"
    )
    definition: Mapped[InstrumentDefinition | None] = relationship(back_populates="instances")
    computer_bindings: Mapped[list[ComputerBinding]] = relationship(
        back_populates="instrument", cascade="all, delete-orphan"
    )


#: The seed plan calls physical instruments "equipment".
Equipment = Instrument


class InstrumentStatus(Base):
    """One observation of an instrument's status."""

    __tablename__ = "instrument_status"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(50))
    last_connected: Mapped[datetime | None] = mapped_column(default=None)
    current_settings: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    instrument: Mapped[Instrument] = relationship(back_populates="status_history")
