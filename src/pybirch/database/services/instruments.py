"""Physical instruments: registration, status history, last-known settings.

An instrument is described by a plain dict (name, instrument_type, pybirch_class,
adapter, last_settings), as
:func:`pybirch.database_integration.managers.equipment_manager.describe_instrument` makes
it from a PyBirch instrument: this package never looks inside instrument objects. Names
are unique per computer, not per lab: :meth:`register_instrument` keeps the lab's
instruments bound to no computer, and the bindings mixin those of each computer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from pybirch.database.errors import DatabaseError
from pybirch.database.models import (
    Computer,
    ComputerBinding,
    Instrument,
    InstrumentStatus,
    utcnow,
)
from pybirch.database.models.instruments import INSTRUMENT_TYPES
from pybirch.database.services.core import ServiceCore, _check_fields
from pybirch.database.services.paging import Page

#: The keys of an instrument's description; its name is required, the rest optional.
DESCRIPTION_KEYS = ("name", "instrument_type", "pybirch_class", "adapter", "last_settings")
#: Columns a description never sets: the row's identity, its lab and its bookkeeping.
_NOT_DESCRIBED = frozenset(
    {"id", "lab_id", "created_at", "created_by_id", "updated_at", "status_history"}
)

#: A model with ``id`` and ``instrument_id`` columns: one instrument's history.
RowT = TypeVar("RowT")


class InstrumentsMixin(ServiceCore):
    """Register instruments and follow their status."""

    def register_instrument(
        self, described: Mapping[str, Any], lab_id: int | None = None, **fields: Any
    ) -> Instrument:
        """Record a described instrument of the lab bound to no computer, or refresh it."""
        values = {**checked_description(described), **fields}
        with self.session() as session:
            row = session.scalar(
                _unbound(_by_name(values["name"], lab_id)).order_by(Instrument.id).limit(1)
            )
            if row is None:
                row = Instrument(lab_id=lab_id, **values)
                session.add(row)
            else:
                for name, value in values.items():
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

    def get_instrument_by_name(
        self, name: str, lab_id: int | None = None, *, computer_id: int | None = None
    ) -> Instrument | None:
        """The instrument ``name`` of ``lab_id`` on that computer (None: on none), or None."""
        statement = _by_name(name, lab_id)
        if computer_id is None:
            statement = _unbound(statement)
        else:
            statement = statement.join(ComputerBinding).where(
                ComputerBinding.computer_id == computer_id
            )
        with self.session() as session:
            return session.scalar(statement.order_by(Instrument.id).limit(1))

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
        with self.session() as session:
            instrument = self._get(session, Instrument, equipment_id)
            observation = record_status(
                session,
                instrument,
                status,
                current_settings=current_settings,
                error_message=error_message,
            )
            session.flush()
            return observation

    def get_instrument_status_history(
        self, instrument_id: int, limit: int = 100
    ) -> list[InstrumentStatus]:
        """The newest ``limit`` status observations, newest first."""
        with self.session() as session:
            return newest_of_instrument(session, InstrumentStatus, instrument_id, limit)

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

    def get_instruments_health(self, lab_id: int) -> list[dict[str, Any]]:
        """Every instrument of a lab, by name: its computers, status, last change and last error.

        Each item: ``id``, ``name``, ``type``, ``status``, ``computers`` (display names),
        ``changed_at`` (the newest status observation), ``last_error`` and ``error_at``
        (the newest observation with an error, which may be older than the status),
        ``last_connected`` and ``last_settings``.
        """
        in_lab = select(Instrument.id).where(Instrument.lab_id == lab_id)
        newest_error = (
            select(func.max(InstrumentStatus.id))
            .where(
                InstrumentStatus.instrument_id.in_(in_lab),
                InstrumentStatus.error_message.is_not(None),
            )
            .group_by(InstrumentStatus.instrument_id)
        )
        with self.session() as session:
            instruments = session.scalars(
                select(Instrument).where(Instrument.lab_id == lab_id).order_by(Instrument.name)
            ).all()
            changed = dict(
                session.execute(
                    select(InstrumentStatus.instrument_id, func.max(InstrumentStatus.updated_at))
                    .where(InstrumentStatus.instrument_id.in_(in_lab))
                    .group_by(InstrumentStatus.instrument_id)
                ).all()
            )
            errors = {
                row.instrument_id: (row.error_message, row.updated_at)
                for row in session.execute(
                    select(
                        InstrumentStatus.instrument_id,
                        InstrumentStatus.error_message,
                        InstrumentStatus.updated_at,
                    ).where(InstrumentStatus.id.in_(newest_error))
                )
            }
            computers: dict[int, list[str]] = {}
            for instrument_id, computer in session.execute(
                select(ComputerBinding.instrument_id, Computer)
                .join(Computer, Computer.id == ComputerBinding.computer_id)
                .where(ComputerBinding.instrument_id.in_(in_lab))
                .order_by(ComputerBinding.is_primary.desc(), Computer.computer_name)
            ).all():
                computers.setdefault(instrument_id, []).append(computer.display_name)
            return [
                {
                    "id": instrument.id,
                    "name": instrument.name,
                    "type": instrument.instrument_type,
                    "status": instrument.status,
                    "computers": computers.get(instrument.id, []),
                    "changed_at": changed.get(instrument.id),
                    "last_error": errors.get(instrument.id, (None, None))[0],
                    "error_at": errors.get(instrument.id, (None, None))[1],
                    "last_connected": instrument.last_connected,
                    "last_settings": dict(instrument.last_settings or {}),
                }
                for instrument in instruments
            ]


def checked_description(described: Mapping[str, Any]) -> dict[str, Any]:
    """The instrument columns a description dict gives (TypeError, DatabaseError if unusable).

    Beside the keys of :data:`DESCRIPTION_KEYS` it may give other columns (manufacturer,
    serial_number...), but never the row's identity or its lab.
    """
    if not isinstance(described, Mapping):
        raise TypeError(
            f"describe the instrument as a dict, not {type(described).__name__}: see "
            "pybirch.database_integration.managers.equipment_manager.describe_instrument"
        )
    values = dict(described)
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DatabaseError("an instrument description needs a name")
    fixed = sorted(_NOT_DESCRIBED & values.keys())
    if fixed:
        raise DatabaseError(f"an instrument description cannot set {fixed}")
    _check_fields(Instrument, values)
    if "instrument_type" in values:
        _check_type(values["instrument_type"])
    if values.get("last_settings") is None:
        values.pop("last_settings", None)  # the column holds {} when nothing is known
    else:
        values["last_settings"] = dict(values["last_settings"])
    return values


def record_status(
    session: Session,
    instrument: Instrument,
    status: str,
    *,
    current_settings: dict[str, Any] | None = None,
    error_message: str | None = None,
) -> InstrumentStatus:
    """Set an instrument's status and add the observation to its history."""
    now = utcnow()
    instrument.status = status
    if status == "connected":
        instrument.last_connected = now
    if current_settings is not None:
        instrument.last_settings = dict(current_settings)
    observation = InstrumentStatus(
        instrument_id=instrument.id,
        status=status,
        last_connected=instrument.last_connected,
        current_settings=current_settings,
        error_message=error_message,
        updated_at=now,
    )
    session.add(observation)
    return observation


def newest_of_instrument(
    session: Session, model: type[RowT], instrument_id: int, limit: int
) -> list[RowT]:
    """The newest ``limit`` rows of ``model`` (a per-instrument history) about one instrument."""
    return list(
        session.scalars(
            select(model)
            .where(model.instrument_id == instrument_id)  # type: ignore[attr-defined]
            .order_by(model.id.desc())  # type: ignore[attr-defined]
            .limit(limit)
        )
    )


def _by_name(name: str, lab_id: int | None) -> Select[tuple[Instrument]]:
    lab = Instrument.lab_id.is_(None) if lab_id is None else Instrument.lab_id == lab_id
    return select(Instrument).where(Instrument.name == name, lab)


def _unbound(statement: Select[tuple[Instrument]]) -> Select[tuple[Instrument]]:
    """Only the instruments bound to no computer."""
    return statement.where(~exists().where(ComputerBinding.instrument_id == Instrument.id))


def _check_type(instrument_type: str) -> None:
    if instrument_type not in INSTRUMENT_TYPES:
        raise DatabaseError(
            f"unknown instrument type {instrument_type!r}; use one of {INSTRUMENT_TYPES}"
        )
