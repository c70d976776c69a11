"""Calibrations (with their certificates) and maintenance of a lab's instruments."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pybirch.database.models.base import Base, Created


class Calibration(Base, Created):
    """One calibration of an instrument, with its certificate file if one was given.

    The certificate's bytes live in the database, beside the row that says whose lab it
    is: a backup holds both, every computer of the lab sees the same file, and no path on a
    disk can be guessed or served to another lab. They are loaded only when asked for.
    """

    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The instrument's lab, repeated here so that every read checks it without a join.
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    calibrated_on: Mapped[date]
    due_on: Mapped[date | None] = mapped_column(default=None)
    #: Who calibrated it: a service centre, a colleague.
    performed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    certificate_name: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Read from the file's first bytes (PDF, PNG, JPEG), never from what the browser said.
    certificate_type: Mapped[str | None] = mapped_column(String(100), default=None)
    certificate_size: Mapped[int | None] = mapped_column(default=None)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)


class MaintenanceEntry(Base, Created):
    """One entry of an instrument's maintenance log: when, by whom, what, and the next one."""

    __tablename__ = "maintenance_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    performed_on: Mapped[date]
    performed_by: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    next_due: Mapped[date | None] = mapped_column(default=None)
