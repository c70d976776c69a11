"""Instruments bound to computers: which computer drives which instrument, and how.

A binding says that an instrument is attached to a computer, with the adapter (VISA
address), settings and driver options it last used there. A computer loads the
instruments bound to it on start-up (:meth:`BindingsMixin.get_computer_bindings`), and
an instrument is known by its name *and* its computer: two computers of a lab may each
have a "Lock-in" (:meth:`BindingsMixin.register_instrument_on_computer`).

A lab's instrument is bound only to a computer of the same lab, or to a lab-less server
computer (a server's own computer may run instruments of any lab).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pybirch.database.errors import NotFoundError
from pybirch.database.models import (
    Computer,
    ComputerBinding,
    Instrument,
    InstrumentDefinition,
    InstrumentDefinitionVersion,
    utcnow,
)
from pybirch.database.services.computers import find_computer
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.definitions import seen_by
from pybirch.database.services.instruments import checked_description, record_status

#: VISA resource prefixes and the adapter type they mean; the first that matches wins.
ADAPTER_TYPES = (("GPIB", "GPIB"), ("USB", "USB"), ("ASRL", "Serial"), ("TCPIP", "TCP"))


def adapter_type_of(adapter: str | None) -> str | None:
    """GPIB, USB, Serial or TCP for a VISA address (``GPIB0::8::INSTR``), else None."""
    if not adapter:
        return None
    resource = adapter.strip().upper()
    for prefix, kind in ADAPTER_TYPES:
        if resource.startswith(prefix):
            return kind
    # A raw socket outside the TCPIP form ("SOCKET" resource class) is TCP too.
    return "TCP" if resource.endswith("::SOCKET") else None


class BindingsMixin(ServiceCore):
    """Bind instruments to computers and find the instruments a computer drives."""

    def bind_instrument_to_computer(
        self,
        instrument_id: int,
        computer_name: str | None = None,
        adapter: str | None = None,
        *,
        computer_id: int | None = None,
        lab_id: int | None = None,
        adapter_type: str | None = None,
        is_primary: bool = True,
        last_settings: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> ComputerBinding:
        """Bind an instrument to a computer (by id or name), or update that binding.

        Given values replace the stored ones; ``adapter_type`` is derived from the
        adapter when not given. The primary binding is the instrument's only one.
        """
        with self.session() as session:
            instrument = _instrument(session, instrument_id, lab_id)
            computer = find_computer(
                session,
                computer_pk=computer_id,
                computer_name=computer_name,
                lab_id=instrument.lab_id,
            )
            _check_same_lab(instrument, computer)
            binding = _binding(session, instrument, computer)
            if adapter is not None:
                binding.adapter = adapter
            if adapter_type is not None or adapter is not None:
                binding.adapter_type = adapter_type or adapter_type_of(adapter)
            if last_settings is not None:
                binding.last_settings = _json_object(last_settings, "last_settings")
            if options is not None:
                binding.options = _json_object(options, "options")
            binding.is_primary = is_primary
            if is_primary:
                _demote_others(session, binding)
            session.flush()
            return binding

    def get_computer_bindings(
        self,
        computer_name: str | None = None,
        *,
        computer_id: int | None = None,
        lab_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """The instruments bound to a computer, with their adapters and definitions (JSON-able).

        The computer is named by id or by name (see :func:`find_computer`: without
        ``lab_id`` a name means a server computer). With ``lab_id`` only that lab's
        instruments are listed (a server computer may serve several labs).
        """
        with self.session() as session:
            bindings = self._bindings(session, computer_name, computer_id, lab_id)
            return [_binding_dict(session, binding) for binding in bindings]

    def get_instruments_for_computer(
        self,
        computer_name: str | None = None,
        *,
        computer_id: int | None = None,
        lab_id: int | None = None,
    ) -> list[Instrument]:
        """The instruments bound to a computer, by name (with ``lab_id``: of that lab)."""
        with self.session() as session:
            bindings = self._bindings(session, computer_name, computer_id, lab_id)
            return [binding.instrument for binding in bindings]

    def record_binding_use(
        self,
        binding_id: int,
        *,
        adapter: str | None = None,
        settings: dict[str, Any] | None = None,
        connected: bool = True,
        lab_id: int | None = None,
        loaded_driver: dict[str, Any] | None = None,
    ) -> ComputerBinding:
        """Write back what a computer used: the adapter it assigned, the settings it set.

        Both the binding and its instrument remember them; ``connected`` stamps
        ``last_connected``; ``loaded_driver`` says which driver it loaded. With ``lab_id``
        the instrument must be of that lab.
        """
        with self.session() as session:
            binding = session.get(ComputerBinding, binding_id)
            if binding is None or (lab_id is not None and binding.instrument.lab_id != lab_id):
                raise NotFoundError("ComputerBinding", binding_id)
            instrument = binding.instrument
            if adapter is not None:
                binding.adapter = instrument.adapter = adapter
                binding.adapter_type = adapter_type_of(adapter)
            if settings is not None:
                binding.last_settings = _json_object(settings, "settings")
                instrument.last_settings = dict(binding.last_settings)
            if connected:
                binding.last_connected = instrument.last_connected = utcnow()
            if loaded_driver is not None:
                binding.loaded_driver = _json_object(loaded_driver, "loaded_driver")
            session.flush()
            return binding

    def set_instrument_definition(
        self, instrument_id: int, definition_id: int | None, *, lab_id: int | None
    ) -> Instrument:
        """Make an instrument of the lab run a stored definition it sees (None: its class).

        The definition must be of the instrument's kind; another lab's private definition
        is unknown (NotFoundError), as is another lab's instrument.
        """
        with self.session() as session:
            instrument = session.get(Instrument, instrument_id)
            if instrument is None or instrument.lab_id != lab_id:
                raise NotFoundError("Instrument", instrument_id)
            if definition_id is not None:
                definition = session.get(InstrumentDefinition, definition_id)
                if definition is None or not seen_by(definition, lab_id):
                    raise NotFoundError("InstrumentDefinition", definition_id)
                if definition.instrument_type != instrument.instrument_type:
                    raise ValueError(
                        f"{definition.name} is a {definition.instrument_type} driver; "
                        f"{instrument.name} is a {instrument.instrument_type}"
                    )
            instrument.definition_id = definition_id
            session.flush()
            return instrument

    def register_instrument_on_computer(
        self, described: Mapping[str, Any], lab_id: int | None, computer_id: int
    ) -> Instrument:
        """The lab's instrument of that name on that computer, refreshed; else made and bound."""
        values = checked_description(described)
        with self.session() as session:
            computer = find_computer(session, computer_pk=computer_id, lab_id=lab_id)
            if lab_id is None and computer.lab_id is not None:
                raise NotFoundError("Computer", computer_id)  # a lab's computer, no lab given
            lab = Instrument.lab_id.is_(None) if lab_id is None else Instrument.lab_id == lab_id
            instrument = session.scalar(
                select(Instrument)
                .join(ComputerBinding)
                .where(
                    Instrument.name == values["name"],
                    lab,
                    ComputerBinding.computer_id == computer.id,
                )
                .order_by(Instrument.id)
                .limit(1)
            )
            if instrument is None:
                values.setdefault("instrument_type", "measurement")
                instrument = Instrument(lab_id=lab_id, **values)
                session.add(instrument)
                session.flush()
            else:
                for name, value in values.items():
                    setattr(instrument, name, value)
            binding = _binding(session, instrument, computer)
            if "adapter" in values:
                binding.adapter = values["adapter"]
                binding.adapter_type = adapter_type_of(values["adapter"])
            if "last_settings" in values:
                binding.last_settings = dict(values["last_settings"])
            session.flush()
            return instrument

    def set_computer_instruments_status(
        self, computer_pk: int, status: str, *, lab_id: int | None = None
    ) -> list[Instrument]:
        """Record ``status`` (a history row each) of the instruments bound to that computer only."""
        with self.session() as session:
            computer = find_computer(session, computer_pk=computer_pk, lab_id=lab_id)
            statement = (
                select(Instrument)
                .join(ComputerBinding)
                .where(ComputerBinding.computer_id == computer.id)
                .order_by(Instrument.name, Instrument.id)
            )
            if lab_id is not None:
                statement = statement.where(Instrument.lab_id == lab_id)
            instruments = list(session.scalars(statement))
            for instrument in instruments:
                record_status(session, instrument, status)
            session.flush()
            return instruments

    def get_instrument_bindings(
        self, instrument_id: int, *, lab_id: int | None
    ) -> list[dict[str, Any]]:
        """Every computer an instrument of the lab is bound to, as bindings (JSON-able).

        Another lab's instrument is unknown (NotFoundError). Primary binding first.
        """
        with self.session() as session:
            _instrument(session, instrument_id, lab_id)
            bindings = session.scalars(
                select(ComputerBinding)
                .where(ComputerBinding.instrument_id == instrument_id)
                .options(
                    selectinload(ComputerBinding.instrument),
                    selectinload(ComputerBinding.computer),
                )
                .order_by(ComputerBinding.is_primary.desc(), ComputerBinding.id)
            )
            return [_binding_dict(session, binding) for binding in bindings]

    def _bindings(
        self,
        session: Session,
        computer_name: str | None,
        computer_pk: int | None,
        lab_id: int | None,
    ) -> list[ComputerBinding]:
        computer = find_computer(
            session, computer_pk=computer_pk, computer_name=computer_name, lab_id=lab_id
        )
        statement = (
            select(ComputerBinding)
            .join(Instrument)
            .where(ComputerBinding.computer_id == computer.id)
            .options(
                selectinload(ComputerBinding.instrument), selectinload(ComputerBinding.computer)
            )
            .order_by(Instrument.name, ComputerBinding.id)
        )
        if lab_id is not None:
            statement = statement.where(Instrument.lab_id == lab_id)
        return list(session.scalars(statement))


def _instrument(session: Session, instrument_id: int, lab_id: int | None) -> Instrument:
    instrument = session.get(Instrument, instrument_id)
    if instrument is None or (lab_id is not None and instrument.lab_id != lab_id):
        raise NotFoundError("Instrument", instrument_id)
    return instrument


def _check_same_lab(instrument: Instrument, computer: Computer) -> None:
    """A computer of one lab never drives another lab's instrument (a server's may)."""
    if computer.lab_id is not None and computer.lab_id != instrument.lab_id:
        raise NotFoundError("Computer", computer.id)


def _binding(session: Session, instrument: Instrument, computer: Computer) -> ComputerBinding:
    """The binding of the instrument to the computer, made if missing."""
    binding = session.scalar(
        select(ComputerBinding).where(
            ComputerBinding.instrument_id == instrument.id,
            ComputerBinding.computer_id == computer.id,
        )
    )
    if binding is None:
        binding = ComputerBinding(instrument=instrument, computer=computer, options={})
        session.add(binding)
    return binding


def _demote_others(session: Session, binding: ComputerBinding) -> None:
    session.flush()
    for other in session.scalars(
        select(ComputerBinding).where(
            ComputerBinding.instrument_id == binding.instrument_id,
            ComputerBinding.id != binding.id,
            ComputerBinding.is_primary.is_(True),
        )
    ):
        other.is_primary = False


def _json_object(value: Any, what: str) -> dict[str, Any]:
    """A copy of ``value`` if it is a dict JSON can store (ValueError otherwise)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, not {type(value).__name__}")
    try:
        return json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _binding_dict(session: Session, binding: ComputerBinding) -> dict[str, Any]:
    """A binding in the seed plan's shape, plain JSON (datetimes as ISO strings)."""
    instrument, computer = binding.instrument, binding.computer
    return {
        "id": binding.id,
        "instrument": {
            "id": instrument.id,
            "name": instrument.name,
            "lab_id": instrument.lab_id,
            "instrument_type": instrument.instrument_type,
            "pybirch_class": instrument.pybirch_class,
            "manufacturer": instrument.manufacturer,
            "model": instrument.model,
            "serial_number": instrument.serial_number,
            "status": instrument.status,
            "adapter": instrument.adapter,
            "last_settings": instrument.last_settings or {},
            "last_connected": _iso(instrument.last_connected),
            "definition_id": instrument.definition_id,
            "definition": _driver_of(session, instrument),
        },
        "adapter": binding.adapter,
        "adapter_type": binding.adapter_type,
        "is_primary": binding.is_primary,
        "last_connected": _iso(binding.last_connected),
        "last_settings": binding.last_settings or {},
        "options": binding.options or {},
        "loaded_driver": binding.loaded_driver,
        "computer_id": computer.id,
        "computer_name": computer.computer_name,
    }


def _installed_driver(instrument: Instrument) -> dict[str, Any] | None:
    """The definition of an instrument whose driver is installed code, named by its class.

    It is named after the instrument, so that instruments made from it are told apart.
    """
    if not instrument.pybirch_class:
        return None
    return {
        "id": None,
        "lab_id": instrument.lab_id,
        "name": instrument.name,
        "display_name": instrument.pybirch_class.replace(":", ".").rsplit(".", 1)[-1],
        "instrument_type": instrument.instrument_type,
        "pybirch_class": instrument.pybirch_class,
        "source_code": None,
        "is_builtin": instrument.pybirch_class.startswith("pybirch."),
    }


def _driver_of(session: Session, instrument: Instrument) -> dict[str, Any] | None:
    """The definition a computer loads an instrument from.

    The instrument's own stored definition if it has one; else an approved stored
    definition its lab sees named like its installed driver's class (the database wins
    over a driver file of the same name); else the installed driver.
    """
    if instrument.definition_id is not None:
        definition = session.get(InstrumentDefinition, instrument.definition_id)
        if definition is None or not seen_by(definition, instrument.lab_id):
            return None  # another lab's private code is never handed out
        return _definition_dict(session, definition)
    class_name = (instrument.pybirch_class or "").replace(":", ".").rsplit(".", 1)[-1]
    namesake = _approved_namesake(session, class_name, instrument.lab_id) if class_name else None
    if namesake is not None:
        return _definition_dict(session, namesake)
    return _installed_driver(instrument)


def _approved_namesake(
    session: Session, class_name: str, lab_id: int | None
) -> InstrumentDefinition | None:
    """The approved definition called ``class_name`` the lab sees: its own first."""
    candidates = session.scalars(
        select(InstrumentDefinition).where(
            InstrumentDefinition.name == class_name,
            InstrumentDefinition.approved_version.is_not(None),
        )
    )
    seen = [definition for definition in candidates if seen_by(definition, lab_id)]
    seen.sort(key=lambda d: (d.lab_id != lab_id or lab_id is None, not d.is_builtin, d.id))
    return seen[0] if seen else None


def _definition_dict(session: Session, definition: InstrumentDefinition) -> dict[str, Any]:
    """A definition with the code of its approved version only (no code: none approved).

    A computer runs only approved code, pinned by its hash, so unapproved code is never
    handed out here.
    """
    approved = None
    if definition.approved_version is not None:
        approved = session.scalar(
            select(InstrumentDefinitionVersion).where(
                InstrumentDefinitionVersion.definition_id == definition.id,
                InstrumentDefinitionVersion.version == definition.approved_version,
                InstrumentDefinitionVersion.status == "approved",
            )
        )
    return {
        "id": definition.id,
        "lab_id": definition.lab_id,
        "name": definition.name,
        "display_name": definition.display_name,
        "description": definition.description,
        "instrument_type": definition.instrument_type,
        "category": definition.category,
        "manufacturer": definition.manufacturer,
        "base_class": definition.base_class,
        "dependencies": list(definition.dependencies or []),
        "settings_schema": definition.settings_schema,
        "default_settings": definition.default_settings,
        "data_columns": definition.data_columns,
        "data_units": definition.data_units,
        "position_column": definition.position_column,
        "position_units": definition.position_units,
        "is_builtin": definition.is_builtin,
        "version": None if approved is None else approved.version,
        "source_code": None if approved is None else approved.source_code,
        "code_hash": None if approved is None else approved.code_hash,
        # the pin taken at approval: a computer refuses code that does not hash to it
        "approved_code_hash": definition.approved_code_hash if approved is not None else None,
    }
