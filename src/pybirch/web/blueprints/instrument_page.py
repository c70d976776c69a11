"""One instrument's page: where it is bound and what runs it, its history, its scans, and
manual control for a lab member (move a stage, read once, apply settings).

Viewers see everything but the controls. A control posts here and the page comes back
with what happened: where the stage went, the reading (a table, or a plot of an array),
the settings now set, or why the station refused or the instrument failed.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, render_template, request
from flask_login import login_required
from flask_wtf import FlaskForm

from pybirch.database.models import Instrument, Role
from pybirch.station.manual_control import Reading
from pybirch.web.auth.access import visible_instrument
from pybirch.web.instrument_control import (
    ActionOutcome,
    ManualInputError,
    apply_settings,
    chosen_binding,
    measure,
    move,
)
from pybirch.web.instrument_view import changed_settings, computer_view, instrument_view, iso
from pybirch.web.lab_calendar import today
from pybirch.web.listing import page_number
from pybirch.web.reading_plot import reading_plot
from pybirch.web.services import database
from pybirch.web.settings_form import read_settings

blueprint = Blueprint("instrument_page", __name__, url_prefix="/instruments")

#: Rows of a reading shown as a table; longer readings are drawn.
TABLE_ROWS = 20


@blueprint.route("/<int:instrument_id>")
@login_required
def detail(instrument_id: int) -> str:
    """The instrument's page."""
    instrument, role = visible_instrument(instrument_id, Role.VIEWER)
    return _render(instrument, role)


@blueprint.route("/<int:instrument_id>/move", methods=["POST"])
@login_required
def move_to(instrument_id: int) -> tuple[str, int]:
    """Move the instrument to the position typed (members)."""
    return _act(instrument_id, lambda i: move(i, _computer(), request.form.get("position")))


@blueprint.route("/<int:instrument_id>/measure", methods=["POST"])
@login_required
def measure_once(instrument_id: int) -> tuple[str, int]:
    """Read the instrument once (members)."""
    return _act(instrument_id, lambda i: measure(i, _computer()))


@blueprint.route("/<int:instrument_id>/apply-last", methods=["POST"])
@login_required
def apply_last(instrument_id: int) -> tuple[str, int]:
    """Apply the settings the instrument last ran with on that computer (members)."""
    return _act(instrument_id, lambda i: apply_settings(i, _computer(), None))


@blueprint.route("/<int:instrument_id>/settings", methods=["POST"])
@login_required
def apply_form(instrument_id: int) -> tuple[str, int]:
    """Apply the settings form's changed values (members)."""
    return _act(instrument_id, _apply_form)


def _apply_form(instrument: Instrument) -> ActionOutcome:
    binding = chosen_binding(instrument, _computer())
    view = computer_view(instrument, binding)
    try:
        submitted = read_settings(view.inputs, request.form)
    except ValueError as exc:
        raise ManualInputError(str(exc)) from exc
    changed = changed_settings(view.inputs, submitted)
    if not changed:
        raise ManualInputError("nothing changed: edit a setting before applying")
    return apply_settings(instrument, binding["computer_id"], changed)


def _computer() -> str | None:
    return request.form.get("computer_id")


def _act(instrument_id: int, action: Callable[[Instrument], ActionOutcome]) -> tuple[str, int]:
    """Carry out a member's action and show the page with how it went."""
    instrument, role = visible_instrument(instrument_id, Role.MEMBER)
    try:
        outcome = action(instrument)
    except ManualInputError as exc:
        return _render(instrument, role, problem=str(exc)), 400
    # the record has changed (settings written back): read it again for the page
    return _render(database().get_instrument(instrument.id), role, outcome=outcome), 200


def _render(
    instrument: Instrument,
    role: Role,
    outcome: ActionOutcome | None = None,
    problem: str | None = None,
) -> str:
    reading = None
    if outcome is not None and outcome.ok and outcome.action == "measure":
        reading = Reading.from_dict(outcome.result)
    return render_template(
        "instrument.html",
        view=instrument_view(instrument, page_number()),
        lab=database().get_lab(instrument.lab_id),
        today=today(),
        due=database().due_state(instrument, today()),
        can_control=role.allows(Role.MEMBER),
        outcome=outcome,
        problem=problem,
        reading=reading,
        plot=reading_plot(reading) if reading is not None and reading.is_array else None,
        table_rows=TABLE_ROWS,
        iso=iso,
        form=FlaskForm(),
    )
