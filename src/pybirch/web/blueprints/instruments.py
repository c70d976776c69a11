"""Instruments of a lab: live status with its computer and last error, and last-known settings."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from pybirch.web.auth.access import chosen_lab
from pybirch.web.lab_calendar import today
from pybirch.web.listing import choice, page_number, search_text
from pybirch.web.services import database

blueprint = Blueprint("instruments", __name__, url_prefix="/instruments")

PER_PAGE = 100
TYPES = ("measurement", "movement")


@blueprint.route("/")
@login_required
def index() -> str:
    """The lab's instruments, searchable and filtered by type."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    text = search_text()
    kind = choice("type", TYPES)
    page = page_number()
    db = database()
    found = db.search_instruments(
        text, lab_id=lab.id, instrument_type=kind, page=page, per_page=PER_PAGE
    )
    day = today()
    return render_template(
        "instruments.html",
        labs=labs,
        lab=lab,
        instruments=found,
        text=text or "",
        kind=kind,
        care={instrument.id: db.due_state(instrument, day) for instrument in found.items},
        today=day,
        health={item["id"]: item for item in db.get_instruments_health(lab.id)},
    )
