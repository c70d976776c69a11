"""An instrument by id, if the current user may see it (404 otherwise, as for no instrument)."""

from __future__ import annotations

from flask import abort

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Instrument, Role
from pybirch.web.auth.access import require_lab_role
from pybirch.web.services import database


def visible_instrument(instrument_id: int, needed: Role = Role.VIEWER) -> Instrument:
    """The instrument if the user has ``needed`` in its lab; 404 if not a member (or none).

    An instrument of no lab is shown to no one, like every record of no lab.
    """
    try:
        instrument = database().get_instrument(instrument_id)
    except NotFoundError:
        abort(404, f"instrument {instrument_id} not found")
    require_lab_role(instrument.lab_id, needed)
    return instrument
