"""Calibrations (with their certificates) and maintenance of a lab's instruments."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from pybirch.database.models.base import Base, Created


class OfInstrument(Created):
    """A record about one instrument, entered by someone.

    The instrument's lab is repeated on the record so that every read checks it without a
    join; both go with the instrument when it is deleted.
    """

    @declared_attr
    def lab_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None)

    @declared_attr
    def instrument_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)


class Calibration(Base, OfInstrument):
    """One calibration of an instrument, with its certificate file if one was given.

    The certificate's bytes live in the database, beside the row that says whose lab it
    is: a backup holds both, every computer of the lab sees the same file, and no path on a
    disk can be guessed or served to another lab. They are loaded only when asked for.
    """

    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
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


class MaintenanceEntry(Base, OfInstrument):
    """One entry of an instrument's maintenance log: when, by whom, what, and the next one."""

    __tablename__ = "maintenance_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    performed_on: Mapped[date]
    performed_by: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    next_due: Mapped[date | None] = mapped_column(default=None)
