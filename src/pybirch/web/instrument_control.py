"""A member's manual control of an instrument from the web: found, carried out, logged.

The instrument's page and the API both come here. The instrument is driven by the station
of the computer it is bound to (this server's own, or a lab computer's agent); which
computer, when it is bound to several, is the request's choice, else its primary binding.
Every action that reaches a station is kept with who asked and how it went
(:meth:`DatabaseService.record_instrument_action`); a refusal or an instrument's failure
comes back as a message, never as a server error.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from flask_login import current_user

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Instrument
from pybirch.errors import PyBirchError
from pybirch.station import StationError, StationInterface
from pybirch.station.manual_control import InstrumentActionError, ManualTarget
from pybirch.web.services import database
from pybirch.web.stations import station_of

log = logging.getLogger(__name__)


class ManualInputError(PyBirchError):
    """What the member sent cannot be an action (no number, no settings); nothing was done."""


@dataclass(frozen=True)
class ActionOutcome:
    """How a manual action ended: ``done``, ``refused`` or ``failed``, with what came back."""

    action: str
    outcome: str
    computer: str
    result: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the instrument did it."""
        return self.outcome == "done"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for the API."""
        return {
            "action": self.action,
            "outcome": self.outcome,
            "ok": self.ok,
            "computer": self.computer,
            "result": self.result,
            "message": self.message,
        }


def chosen_binding(instrument: Instrument, computer_id: Any) -> dict[str, Any]:
    """The instrument's binding to the chosen computer (None or empty: its primary one)."""
    bindings = database().get_instrument_bindings(instrument.id, lab_id=instrument.lab_id)
    if not bindings:
        raise ManualInputError(f"{instrument.name} is bound to no computer yet")
    if computer_id in (None, ""):
        return bindings[0]
    try:
        wanted = int(computer_id)
    except (TypeError, ValueError):
        raise ManualInputError("choose one of the computers the instrument is bound to") from None
    for binding in bindings:
        if binding["computer_id"] == wanted:
            return binding
    raise ManualInputError(f"{instrument.name} is not bound to that computer")


def position_from(value: Any) -> float:
    """A position the member typed, as a finite number (ManualInputError otherwise)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ManualInputError("type the position to move to")
    try:
        position = float(value)
    except (TypeError, ValueError):
        raise ManualInputError(f"the position {value!r} is not a number") from None
    if not math.isfinite(position):
        raise ManualInputError(f"the position {value!r} is not a finite number")
    return position


def move(instrument: Instrument, computer_id: Any, position: Any) -> ActionOutcome:
    """Move the instrument to ``position`` (in its units) on its station."""
    value = position_from(position)
    return _carry_out(
        instrument,
        chosen_binding(instrument, computer_id),
        "move",
        {"position": value},
        lambda station, target: station.move(target, value).to_dict(),
    )


def measure(instrument: Instrument, computer_id: Any) -> ActionOutcome:
    """Take one reading of the instrument on its station."""
    return _carry_out(
        instrument,
        chosen_binding(instrument, computer_id),
        "measure",
        {},
        lambda station, target: station.measure_once(target).to_dict(),
    )


def apply_settings(
    instrument: Instrument, computer_id: Any, settings: dict[str, Any] | None
) -> ActionOutcome:
    """Set ``settings`` on the live instrument and write them back (None: its last-known ones)."""
    binding = chosen_binding(instrument, computer_id)
    if settings is None:
        settings = binding["last_settings"] or instrument.last_settings or {}
    if not isinstance(settings, dict) or not settings:
        raise ManualInputError("there are no settings to apply")
    return _carry_out(
        instrument,
        binding,
        "apply_settings",
        {"settings": settings},
        lambda station, target: station.apply_settings(target, settings).to_dict(),
    )


def _carry_out(
    instrument: Instrument,
    binding: dict[str, Any],
    action: str,
    request: dict[str, Any],
    call: Any,
) -> ActionOutcome:
    """Ask the binding's station to act, and keep who asked and how it went."""
    computer_name = binding["computer_name"]
    station = _station(binding["computer_id"])
    target = ManualTarget(binding["id"], instrument.name, int(instrument.lab_id or 0))
    if station is None:
        outcome = ActionOutcome(
            action, "refused", computer_name, message=f"{computer_name} is not connected"
        )
    else:
        outcome = _asked(station, target, action, computer_name, call)
    _log(instrument, binding["computer_id"], request, outcome)
    return outcome


def _asked(
    station: StationInterface, target: ManualTarget, action: str, computer: str, call: Any
) -> ActionOutcome:
    try:
        result = call(station, target)
    except InstrumentActionError as exc:
        return ActionOutcome(action, "failed", computer, message=str(exc))
    except StationError as exc:
        return ActionOutcome(action, "refused", computer, message=str(exc))
    return ActionOutcome(action, "done", computer, result=result)


def _station(computer_id: int) -> StationInterface | None:
    try:
        return station_of(database().get_computer(computer_id))
    except NotFoundError:  # removed meanwhile
        return None


def _log(
    instrument: Instrument, computer_id: int, request: dict[str, Any], outcome: ActionOutcome
) -> None:
    """Keep the action with who took it; a reading of many rows is kept by its shape only."""
    result = outcome.result
    if outcome.action == "measure" and outcome.ok and len(result["rows"]) > 1:
        result = {**result, "rows": len(result["rows"])}
    database().record_instrument_action(
        instrument.id,
        outcome.action,
        outcome.outcome,
        computer_id=computer_id,
        request=request,
        result=result,
        message=outcome.message,
        user_id=current_user.id,
    )
    log.info(
        "%s: %s %s on %s: %s%s",
        current_user.username,
        outcome.action,
        instrument.name,
        outcome.computer,
        outcome.outcome,
        f" ({outcome.message})" if outcome.message else "",
    )
