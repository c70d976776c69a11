"""One instrument through the API: its record, each computer it is bound to, and manual
control for members (move, read once, apply settings), as on its page.

A manual action answers 200 when the instrument did it, 409 when the station refused
(a scan holds the instrument, a position outside its limits, the computer offline) or the
instrument failed; the body says which (``outcome``) and why (``message``). What cannot
be an action at all (no number, no settings) is a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, request
from flask_login import login_required

from pybirch.database.models import Instrument, Role
from pybirch.web import instrument_control
from pybirch.web.api.routes import blueprint
from pybirch.web.api.serializers import iso
from pybirch.web.auth.access import visible_instrument
from pybirch.web.instrument_control import ActionOutcome, ManualInputError
from pybirch.web.instrument_view import ComputerView, computer_view
from pybirch.web.services import database

__all__ = ["blueprint"]

#: Status observations the detail carries, newest first.
HISTORY_ITEMS = 50


@blueprint.route("/instruments/<int:instrument_id>")
@login_required
def instrument(instrument_id: int) -> Response:
    """The instrument, each computer it is bound to (driver, adapter, live state), its history."""
    record, _ = visible_instrument(instrument_id, Role.VIEWER)
    db = database()
    bindings = db.get_instrument_bindings(record.id, lab_id=record.lab_id)
    history = db.get_instrument_status_history(record.id, limit=HISTORY_ITEMS)
    return jsonify(
        id=record.id,
        lab_id=record.lab_id,
        name=record.name,
        type=record.instrument_type,
        manufacturer=record.manufacturer,
        model=record.model,
        serial_number=record.serial_number,
        status=record.status,
        last_connected=iso(record.last_connected),
        last_settings=record.last_settings or {},
        computers=[_computer(computer_view(record, binding)) for binding in bindings],
        status_history=[
            {"status": row.status, "at": iso(row.updated_at), "error": row.error_message}
            for row in history
        ],
    )


@blueprint.route("/instruments/<int:instrument_id>/move", methods=["POST"])
@login_required
def move_instrument(instrument_id: int) -> tuple[Response, int]:
    """Move to ``{"position": number}`` (its units) on ``computer_id`` (default: primary)."""
    return _act(
        instrument_id,
        lambda record, body: instrument_control.move(
            record, body.get("computer_id"), body.get("position")
        ),
    )


@blueprint.route("/instruments/<int:instrument_id>/measure", methods=["POST"])
@login_required
def measure_instrument(instrument_id: int) -> tuple[Response, int]:
    """Read once on ``computer_id`` (default: primary): columns, units and rows."""
    return _act(
        instrument_id,
        lambda record, body: instrument_control.measure(record, body.get("computer_id")),
    )


@blueprint.route("/instruments/<int:instrument_id>/settings", methods=["POST"])
@login_required
def apply_instrument_settings(instrument_id: int) -> tuple[Response, int]:
    """Apply ``{"settings": {...}}`` (absent: the last-known ones) and write them back."""

    def apply(record: Instrument, body: dict[str, Any]) -> ActionOutcome:
        settings = body.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise ManualInputError("settings must be an object of setting names and values")
        return instrument_control.apply_settings(record, body.get("computer_id"), settings)

    return _act(instrument_id, apply)


def _act(instrument_id: int, action: Any) -> tuple[Response, int]:
    record, _ = visible_instrument(instrument_id, Role.MEMBER)
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    try:
        outcome = action(record, body)
    except ManualInputError as exc:
        abort(400, str(exc))
    return jsonify(outcome.to_dict()), 200 if outcome.ok else 409


def _computer(view: ComputerView) -> dict[str, Any]:
    binding = view.binding
    definition = binding["instrument"].get("definition") or {}
    return {
        "computer_id": view.computer.id,
        "computer": view.computer.display_name,
        "online": view.online,
        "is_primary": binding["is_primary"],
        "adapter": binding["adapter"],
        "adapter_type": binding["adapter_type"],
        "loaded_driver": binding["loaded_driver"],
        "definition": (
            {"id": definition["id"], "name": definition["name"], "version": definition["version"]}
            if definition.get("id")
            else None
        ),
        "last_connected": binding["last_connected"],
        "last_settings": view.last_settings,
        "live": view.live.to_dict() if view.live else None,
    }
