"""What an instrument's page shows: each computer it is bound to, its history, its scans.

For every binding: the computer, whether its station can be asked now, the driver it
loaded (a stored definition's version, a driver file, an installed class), and the live
description the station gives of the instrument (units, limits, columns, settings and
their schema), from which the settings form is made. Read from the records and from what
the stations last reported; nothing here asks an instrument anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Computer, Instrument, InstrumentAction, InstrumentStatus, Scan
from pybirch.database.models.base import utcnow
from pybirch.database.services.paging import Page
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.station import StationError
from pybirch.web.services import database
from pybirch.web.settings_form import SettingInput, settings_inputs
from pybirch.web.stations import station_of
from pybirch.web.status_timeline import Segment, status_segments

#: Status observations the timeline spans.
HISTORY_ROWS = 200
#: Changes listed under the timeline, newest first.
RECENT_CHANGES = 20
#: Manual actions listed.
RECENT_ACTIONS = 20


@dataclass(frozen=True)
class ComputerView:
    """One computer an instrument is bound to, as its page shows it."""

    binding: dict[str, Any]
    computer: Computer
    online: bool
    #: The station's live description of the instrument (None if not loaded or offline).
    live: InstrumentInfo | None
    inputs: list[SettingInput]

    @property
    def last_settings(self) -> dict[str, Any]:
        """The settings the instrument last ran with on this computer."""
        return self.binding["last_settings"] or {}

    @property
    def last_connected(self) -> datetime | None:
        """When the instrument last connected on this computer."""
        moment = self.binding["last_connected"]
        return None if moment is None else datetime.fromisoformat(moment)


@dataclass(frozen=True)
class InstrumentView:
    """Everything an instrument's page shows."""

    instrument: Instrument
    computers: list[ComputerView]
    timeline: list[Segment]
    history: list[InstrumentStatus]
    actions: list[tuple[InstrumentAction, str]]
    scans: Page[Scan]

    @property
    def changes(self) -> list[Segment]:
        """The latest status changes, newest first."""
        return list(reversed(self.timeline))[:RECENT_CHANGES]


def instrument_view(instrument: Instrument, scans_page: int = 1) -> InstrumentView:
    """The page of an instrument (of the lab the caller was checked in)."""
    db = database()
    bindings = db.get_instrument_bindings(instrument.id, lab_id=instrument.lab_id)
    history = db.get_instrument_status_history(instrument.id, limit=HISTORY_ROWS)
    return InstrumentView(
        instrument=instrument,
        computers=[computer_view(instrument, binding) for binding in bindings],
        timeline=status_segments(history, utcnow()),
        history=history,
        actions=[(a, _who(a.created_by_id)) for a in db.get_instrument_actions(instrument.id)],
        scans=db.scans_with_instrument(
            instrument, [b["computer_id"] for b in bindings], page=scans_page
        ),
    )


def computer_view(instrument: Instrument, binding: dict[str, Any]) -> ComputerView:
    """How one binding of the instrument shows: its computer, driver, live description, form."""
    computer = database().get_computer(binding["computer_id"])
    station = station_of(computer)
    live = None
    if station is not None:
        try:
            live = next((i for i in station.catalogue() if i.name == instrument.name), None)
        except StationError:  # the agent went away meanwhile: shown as offline
            station = None
    definition = binding["instrument"].get("definition") or {}
    schema = live.settings_schema if live else definition.get("settings_schema")
    values = live.settings if live else (binding["last_settings"] or instrument.last_settings)
    return ComputerView(
        binding, computer, station is not None, live, settings_inputs(schema, values)
    )


def _who(user_id: int | None) -> str:
    if user_id is None:
        return "—"
    try:
        return database().get_user(user_id).username
    except NotFoundError:
        return "a former user"


def changed_settings(inputs: list[SettingInput], submitted: dict[str, Any]) -> dict[str, Any]:
    """The submitted settings whose value differs from what the form showed."""
    shown = {each.name: each for each in inputs}
    return {
        name: value
        for name, value in submitted.items()
        if (shown[name].text if shown[name].kind == "text" else shown[name].value) != value
    }


def iso(moment: datetime | None) -> str:
    """A moment as ISO 8601 (for the browser to show in its own time zone)."""
    return "" if moment is None else moment.isoformat()
