"""The dashboard: what runs now, what waits, what finished lately, and the instruments."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from pybirch.database.models.scans import ACTIVE_SCAN_STATUSES
from pybirch.database.services.equipment_care import DUE_SOON_DAYS
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.lab_calendar import today
from pybirch.web.services import database

blueprint = Blueprint("dashboard", __name__)

#: Rows in each list of the dashboard.
RECENT = 10


@blueprint.route("/")
@login_required
def index() -> str:
    """The dashboard of one of the user's labs (``?lab=ID``, the first one by default)."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    role = require_lab_role(lab.id)
    db = database()
    return render_template(
        "dashboard.html",
        labs=labs,
        lab=lab,
        role=role,
        active=db.search_scans(lab_id=lab.id, status=ACTIVE_SCAN_STATUSES, per_page=RECENT),
        waiting=db.search_scans(lab_id=lab.id, status="queued", per_page=RECENT),
        recent=db.search_scans(lab_id=lab.id, per_page=RECENT),
        queues=db.search_queues(lab_id=lab.id, per_page=RECENT),
        instruments=db.search_instruments(lab_id=lab.id, per_page=RECENT),
        care_due=db.due_instruments(lab.id, today()),
        today=today(),
        due_soon_days=DUE_SOON_DAYS,
        health={item["id"]: item for item in db.get_instruments_health(lab.id)},
    )
