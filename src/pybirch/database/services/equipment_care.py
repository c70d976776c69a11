"""Calibration and maintenance of instruments: records, certificates, and what is due when.

Every call names the lab it acts for: an instrument, a calibration or a certificate of
another lab is not found (:class:`NotFoundError`), exactly as one that does not exist.
Dates are calendar days in the lab's own sense (no time zone): a calibration due on the
1st may still be used on the 1st and is overdue on the 2nd.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, undefer

from pybirch.database.errors import DatabaseError, NotFoundError
from pybirch.database.models import (
    Calibration,
    Computer,
    ComputerBinding,
    Instrument,
    Lab,
    MaintenanceEntry,
)
from pybirch.database.services.core import ServiceCore

RecordT = TypeVar("RecordT", Calibration, MaintenanceEntry)

#: An instrument whose calibration or maintenance falls due within this many days is
#: "due soon" (today included); one whose due day has passed is "overdue".
DUE_SOON_DAYS = 30
#: The largest certificate file kept: a scanned certificate of a few pages.
MAX_CERTIFICATE_BYTES = 10 * 2**20
#: The file types a certificate may be, by the bytes they start with.
CERTIFICATE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
#: The longest free text of a record (what was done, notes).
MAX_TEXT_LENGTH = 5000


class EquipmentCareError(DatabaseError, ValueError):
    """A calibration or maintenance record that cannot be kept; the message says why."""


class CertificateError(EquipmentCareError):
    """A certificate file that is too large, empty, or not a PDF, PNG or JPEG."""


class DueState(enum.StrEnum):
    """Where a calibration or maintenance stands on a given day."""

    #: No due day is recorded.
    UNTRACKED = "untracked"
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        """The state in words, for badges."""
        return {"untracked": "not scheduled", "due_soon": "due soon"}.get(self.value, self.value)

    @property
    def needs_attention(self) -> bool:
        """Due soon or overdue."""
        return self in (DueState.DUE_SOON, DueState.OVERDUE)


@dataclass(frozen=True)
class CareDue:
    """An instrument's calibration and maintenance on one day."""

    calibration: DueState
    calibration_due: date | None
    maintenance: DueState
    maintenance_due: date | None

    @property
    def worst(self) -> DueState:
        """The more urgent of the two."""
        order = list(DueState)
        return max(self.calibration, self.maintenance, key=order.index)

    def overdue_items(self) -> list[tuple[str, date]]:
        """``("calibration", due)`` and/or ``("maintenance", due)`` for what is overdue."""
        items = []
        if self.calibration is DueState.OVERDUE and self.calibration_due is not None:
            items.append(("calibration", self.calibration_due))
        if self.maintenance is DueState.OVERDUE and self.maintenance_due is not None:
            items.append(("maintenance", self.maintenance_due))
        return items


@dataclass(frozen=True)
class OverdueInstrument:
    """An instrument a scan uses whose calibration or maintenance is overdue."""

    instrument_id: int
    name: str
    #: The computer it is bound to, if any (instruments of one name may be on several).
    computer: str | None
    #: ``calibration`` or ``maintenance``.
    kind: str
    due: date

    def describe(self) -> str:
        """``Lock-in calibration overdue since 2026-10-01`` (with its computer if bound)."""
        where = f" on {self.computer}" if self.computer else ""
        return f"{self.name}{where} {self.kind} overdue since {self.due.isoformat()}"


@dataclass(frozen=True)
class CertificateFile:
    """A certificate's name, media type and bytes, to send to a browser."""

    name: str
    media_type: str
    data: bytes


def date_state(due: date | None, today: date, soon_days: int = DUE_SOON_DAYS) -> DueState:
    """Where something due on ``due`` stands ``today``: due that very day is still "due soon"."""
    if due is None:
        return DueState.UNTRACKED
    if today > due:
        return DueState.OVERDUE
    if (due - today).days <= soon_days:
        return DueState.DUE_SOON
    return DueState.OK


def due_state(instrument: Instrument, today: date) -> CareDue:
    """An instrument's calibration and maintenance states on ``today``."""
    return CareDue(
        calibration=date_state(instrument.calibration_due, today),
        calibration_due=instrument.calibration_due,
        maintenance=date_state(instrument.next_maintenance, today),
        maintenance_due=instrument.next_maintenance,
    )


def certificate_media_type(data: bytes) -> str:
    """The media type of a certificate file from its first bytes (CertificateError if none)."""
    for signature, media_type in CERTIFICATE_SIGNATURES.items():
        if data.startswith(signature):
            return media_type
    raise CertificateError("a certificate must be a PDF, PNG or JPEG file")


def check_certificate(data: bytes) -> str:
    """Its media type, once its size and kind are acceptable (CertificateError otherwise)."""
    if not data:
        raise CertificateError("the certificate file is empty")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateError(
            f"a certificate is at most {MAX_CERTIFICATE_BYTES // 2**20} MB; "
            f"this one is {len(data) / 2**20:.1f} MB"
        )
    return certificate_media_type(data)


class EquipmentCareMixin(ServiceCore):
    """Record calibrations and maintenance; say what is due."""

    def record_calibration(
        self,
        instrument_id: int,
        *,
        lab_id: int | None,
        calibrated_on: date,
        due_on: date | None = None,
        performed_by: str | None = None,
        notes: str | None = None,
        certificate: bytes | None = None,
        certificate_name: str | None = None,
        created_by_id: int | None = None,
    ) -> Calibration:
        """Keep a calibration (and its certificate); the newest one is the instrument's current."""
        if due_on is not None and due_on < calibrated_on:
            raise EquipmentCareError("a calibration cannot fall due before it was made")
        file_columns = (
            {} if certificate is None else _certificate_columns(certificate, certificate_name)
        )
        with self.session() as session:
            instrument = _lab_instrument(session, instrument_id, lab_id)
            row = Calibration(
                lab_id=instrument.lab_id,
                instrument_id=instrument.id,
                calibrated_on=calibrated_on,
                due_on=due_on,
                performed_by=_short(performed_by, "who calibrated it"),
                notes=_text(notes),
                created_by_id=created_by_id,
                **file_columns,
            )
            session.add(row)
            # An older certificate entered late joins the history; it does not replace the
            # current calibration.
            if instrument.calibration_date is None or calibrated_on >= instrument.calibration_date:
                instrument.calibration_date = calibrated_on
                instrument.calibration_due = due_on
            session.flush()
            return row

    def list_calibrations(self, instrument_id: int, *, lab_id: int | None) -> list[Calibration]:
        """An instrument's calibrations, newest first (certificate bytes not loaded)."""
        return self._history(Calibration, Calibration.calibrated_on, instrument_id, lab_id)

    def get_certificate(
        self, calibration_id: int, *, lab_id: int | None, instrument_id: int | None = None
    ) -> CertificateFile:
        """A calibration's certificate, if it is of ``lab_id`` (and of that instrument)."""
        with self.session() as session:
            row = session.scalar(
                select(Calibration)
                .options(undefer(Calibration.certificate))
                .where(Calibration.id == calibration_id, _same_lab(Calibration.lab_id, lab_id))
            )
            if row is None or (instrument_id is not None and row.instrument_id != instrument_id):
                raise NotFoundError("Calibration", calibration_id)
            if row.certificate is None:
                raise NotFoundError("certificate of calibration", calibration_id)
            return CertificateFile(
                name=row.certificate_name or f"certificate-{row.id}",
                media_type=row.certificate_type or "application/octet-stream",
                data=row.certificate,
            )

    def set_maintenance_schedule(
        self,
        instrument_id: int,
        *,
        lab_id: int | None,
        interval_days: int | None,
        next_due: date | None = None,
    ) -> Instrument:
        """Maintain every ``interval_days`` (None: no schedule); ``next_due`` sets the next one."""
        if interval_days is not None and not 1 <= interval_days <= 36_600:
            raise EquipmentCareError("a maintenance interval is 1 to 36,600 days")
        with self.session() as session:
            instrument = _lab_instrument(session, instrument_id, lab_id)
            instrument.maintenance_interval_days = interval_days
            if next_due is not None:
                instrument.next_maintenance = next_due
            elif interval_days is None:
                instrument.next_maintenance = None
            return instrument

    def add_maintenance_entry(
        self,
        instrument_id: int,
        *,
        lab_id: int | None,
        performed_on: date,
        performed_by: str,
        description: str,
        next_due: date | None = None,
        created_by_id: int | None = None,
    ) -> MaintenanceEntry:
        """Log maintenance done; the next one falls due ``next_due`` or one interval later."""
        who = _short(performed_by, "who did it")
        what = _text(description)
        if not who or not what:
            raise EquipmentCareError("say who did the maintenance and what was done")
        if next_due is not None and next_due <= performed_on:
            raise EquipmentCareError("the next maintenance falls due after this one")
        with self.session() as session:
            instrument = _lab_instrument(session, instrument_id, lab_id)
            if next_due is None and instrument.maintenance_interval_days:
                next_due = performed_on + timedelta(days=instrument.maintenance_interval_days)
            row = MaintenanceEntry(
                lab_id=instrument.lab_id,
                instrument_id=instrument.id,
                performed_on=performed_on,
                performed_by=who,
                description=what,
                next_due=next_due,
                created_by_id=created_by_id,
            )
            session.add(row)
            if next_due is not None and _is_latest_maintenance(session, instrument, performed_on):
                instrument.next_maintenance = next_due
            session.flush()
            return row

    def list_maintenance(self, instrument_id: int, *, lab_id: int | None) -> list[MaintenanceEntry]:
        """An instrument's maintenance log, newest first."""
        return self._history(MaintenanceEntry, MaintenanceEntry.performed_on, instrument_id, lab_id)

    def due_state(self, instrument: Instrument | int, today: date | None = None) -> CareDue:
        """An instrument's (or instrument id's) calibration and maintenance states on ``today``."""
        if isinstance(instrument, int):
            instrument = self._fetch(Instrument, instrument)
        return due_state(instrument, today or date.today())

    def due_instruments(
        self, lab_id: int, today: date, soon_days: int = DUE_SOON_DAYS
    ) -> list[tuple[Instrument, CareDue]]:
        """The lab's instruments whose calibration or maintenance is due soon or overdue.

        Most urgent first: the earliest due day of the two.
        """
        horizon = today + timedelta(days=soon_days)
        with self.session() as session:
            rows = session.scalars(
                select(Instrument).where(
                    Instrument.lab_id == lab_id,
                    or_(
                        Instrument.calibration_due <= horizon,
                        Instrument.next_maintenance <= horizon,
                    ),
                )
            )
            found = [(row, due_state(row, today)) for row in rows]
        return sorted(found, key=lambda pair: (_earliest_due(pair[1]), pair[0].name, pair[0].id))

    def overdue_instruments(
        self,
        lab_id: int | None,
        names: Iterable[str],
        today: date,
        *,
        computer_id: int | None = None,
    ) -> list[OverdueInstrument]:
        """The instruments called ``names`` that are overdue on ``today``.

        With ``computer_id`` the instruments bound to that computer are meant (or the lab's
        unbound one of that name, if the computer has none); without, every instrument of
        that name in the lab counts, since any of them may be the one used.
        """
        wanted = sorted(set(names))
        if not wanted:
            return []
        with self.session() as session:
            found: list[OverdueInstrument] = []
            for name in wanted:
                for instrument, computer in _instruments_named(session, lab_id, name, computer_id):
                    for kind, due in due_state(instrument, today).overdue_items():
                        found.append(
                            OverdueInstrument(instrument.id, instrument.name, computer, kind, due)
                        )
            return found

    def _history(
        self, model: type[RecordT], day: Any, instrument_id: int, lab_id: int | None
    ) -> list[RecordT]:
        """An instrument's records of ``model``, the latest ``day`` first."""
        with self.session() as session:
            _lab_instrument(session, instrument_id, lab_id)
            return list(
                session.scalars(
                    select(model)
                    .where(model.instrument_id == instrument_id)
                    .order_by(day.desc(), model.id.desc())
                )
            )

    def blocks_overdue_scans(self, lab_id: int | None) -> bool:
        """Whether the lab refuses scans on overdue instruments (False: warns; no lab: warns)."""
        if lab_id is None:
            return False
        with self.session() as session:
            lab = session.get(Lab, lab_id)
            return bool(lab is not None and lab.block_overdue_scans)


def _certificate_columns(data: bytes, name: str | None) -> dict[str, object]:
    media_type = check_certificate(data)
    return {
        "certificate": data,
        "certificate_name": _file_name(name, media_type),
        "certificate_type": media_type,
        "certificate_size": len(data),
        "certificate_sha256": hashlib.sha256(data).hexdigest(),
    }


def _file_name(name: str | None, media_type: str) -> str:
    """The name a certificate is offered under: its own, cleaned, with a matching extension."""
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}[media_type]
    # Only the last part of a path a browser sent (C:\fakepath\x.pdf), printable,
    # without quotes or leading dots, and the extension of what the file really is.
    last = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in last if c.isprintable() and c != '"').lstrip(". ")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem.strip()[:200] or 'certificate'}{extension}"


def _lab_instrument(session: Session, instrument_id: int, lab_id: int | None) -> Instrument:
    """The instrument if it is of ``lab_id``; NotFoundError otherwise (another lab's too)."""
    try:
        instrument = session.get(Instrument, instrument_id)
    except NotFoundError:  # an id beyond the column's range
        instrument = None
    if instrument is None or instrument.lab_id != lab_id:
        raise NotFoundError("Instrument", instrument_id)
    return instrument


def _same_lab(column: object, lab_id: int | None) -> object:
    return column.is_(None) if lab_id is None else column == lab_id  # type: ignore[attr-defined]


def _is_latest_maintenance(session: Session, instrument: Instrument, performed_on: date) -> bool:
    later = session.scalar(
        select(MaintenanceEntry.id)
        .where(
            MaintenanceEntry.instrument_id == instrument.id,
            MaintenanceEntry.performed_on > performed_on,
        )
        .limit(1)
    )
    return later is None


def _instruments_named(
    session: Session, lab_id: int | None, name: str, computer_id: int | None
) -> list[tuple[Instrument, str | None]]:
    """The instruments a scan's ``name`` may mean, each with its computer's name."""
    lab = Instrument.lab_id.is_(None) if lab_id is None else Instrument.lab_id == lab_id
    statement = (
        select(Instrument, Computer.id, Computer.nickname, Computer.computer_name)
        .outerjoin(ComputerBinding, ComputerBinding.instrument_id == Instrument.id)
        .outerjoin(Computer, Computer.id == ComputerBinding.computer_id)
        .where(Instrument.name == name, lab)
        .order_by(Instrument.id)
    )
    rows = list(session.execute(statement))
    if computer_id is not None:
        # The computer's own; else the lab's instrument of that name bound to no computer.
        rows = [row for row in rows if row[1] == computer_id] or [
            row for row in rows if row[1] is None
        ]
    return [(instrument, nickname or hostname) for instrument, _, nickname, hostname in rows]


def _earliest_due(due: CareDue) -> date:
    days = [day for day in (due.calibration_due, due.maintenance_due) if day is not None]
    return min(days) if days else date.max


def _short(text: str | None, what: str) -> str | None:
    cleaned = " ".join((text or "").split())
    if len(cleaned) > 255:
        raise EquipmentCareError(f"{what}: at most 255 characters")
    return cleaned or None


def _text(text: str | None) -> str | None:
    cleaned = (text or "").replace("\r\n", "\n").strip()
    if "\x00" in cleaned:  # PostgreSQL text cannot hold it
        raise EquipmentCareError("text cannot contain a NUL character")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise EquipmentCareError(f"at most {MAX_TEXT_LENGTH:,} characters of text")
    return cleaned or None
