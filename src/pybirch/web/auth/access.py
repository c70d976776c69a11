"""Lab roles on every request: who may see and do what in which lab.

A user who is not a member of a lab gets 404 for anything in it, exactly as for an id
that does not exist, so ids cannot be probed. A member whose role is too low gets 403.
"""

from __future__ import annotations

from flask import abort, g, request
from flask_login import current_user

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Instrument, Lab, Role, Scan
from pybirch.web.services import database


def lab_role(lab_id: int | None) -> Role | None:
    """The current user's role in ``lab_id`` (cached per request), or None."""
    if lab_id is None or not current_user.is_authenticated:
        return None
    cache: dict[int, Role | None] = g.setdefault("lab_roles", {})
    if lab_id not in cache:
        cache[lab_id] = database().get_role(lab_id, current_user.id)
    return cache[lab_id]


def require_lab_role(lab_id: int | None, needed: Role = Role.VIEWER) -> Role:
    """The user's role in the lab; 404 if not a member, 403 if the role is too low."""
    role = lab_role(lab_id)
    if role is None:
        abort(404)
    if not role.allows(needed):
        abort(403)
    return role


def visible_scan(scan_id: str, needed: Role = Role.VIEWER, *, with_settings: bool = False) -> Scan:
    """The scan with this public id if the user has ``needed`` in its lab; 404 otherwise.

    Its settings columns, which grow with the number of positions, are loaded only when
    asked for, so checking access costs the same for a scan of ten points or a million.
    """
    try:
        scan = database().get_scan(scan_id, with_settings=with_settings)
    except NotFoundError:
        abort(404, f"scan {scan_id} not found")
    require_lab_role(scan.lab_id, needed)
    return scan


def visible_instrument(instrument_id: int, needed: Role = Role.VIEWER) -> tuple[Instrument, Role]:
    """The instrument and the user's role in its lab; 404 outside it, 403 below ``needed``."""
    try:
        instrument = database().get_instrument(instrument_id)
    except NotFoundError:
        abort(404, f"instrument {instrument_id} not found")
    return instrument, require_lab_role(instrument.lab_id, needed)


def labs_of_current_user() -> list[tuple[Lab, Role]]:
    """Every lab the current user belongs to, with their role."""
    return database().labs_of_user(current_user.id)


def chosen_lab() -> tuple[list[tuple[Lab, Role]], Lab | None]:
    """The user's labs and the one ``?lab=`` picks (their first by default; None if none)."""
    labs = labs_of_current_user()
    if not labs:
        return labs, None
    wanted = request.args.get("lab", type=int)
    lab = next((lab for lab, _ in labs if lab.id == wanted), labs[0][0])
    require_lab_role(lab.id)
    return labs, lab


def may_write(lab_id: int | None = None) -> bool:
    """True if the user may create and control things (a member or above) in ``lab_id``.

    Without ``lab_id``: in any of their labs. Pages use it (a template global) to offer
    only the actions the user can take.
    """
    if not current_user.is_authenticated:
        return False
    if lab_id is not None:
        role = lab_role(lab_id)
        return role is not None and role.allows(Role.MEMBER)
    if "may_write_somewhere" not in g:
        g.may_write_somewhere = any(role.allows(Role.MEMBER) for _, role in labs_of_current_user())
    return bool(g.may_write_somewhere)
