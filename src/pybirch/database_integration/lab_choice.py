"""Which lab the records of a queue run from Python belong to, so the web UI shows them.

Every page of the web UI shows one lab's records to that lab's members; a scan of no lab
is shown to no one. The rule, for a :class:`DatabaseQueue` made in Python:

1. ``lab=`` (a lab's name or id) or ``lab_id=``: that lab.
2. Else the lab of the queue's project, if it has one.
3. Else, on an embedded (SQLite) database: the *default lab*, the lab of the server's
   first admin (``pybirch serve`` makes it on its first start).
4. Else no lab, with a warning that says to pass ``lab=``: on a shared server (such as
   PostgreSQL) labs are many and a guess would file data in the wrong one; on an embedded
   database no server has made its lab yet.

``pybirch demo`` also makes the default lab if no server has yet (``create=True``), named as
the server will name it (``PYBIRCH_LAB_NAME``, "My Lab"): the server's first start adopts
a lab of that name.
"""

from __future__ import annotations

import contextlib
import logging
from enum import Enum

from pybirch.database import DatabaseService
from pybirch.database.config import default_lab_name
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Lab

log = logging.getLogger(__name__)


class NoLab(Enum):
    """The type of :data:`NO_LAB`."""

    NO_LAB = "no lab"


#: ``lab=NO_LAB``: the records belong to no lab on purpose (shown to no one in the web UI).
NO_LAB = NoLab.NO_LAB


def find_lab(db: DatabaseService, lab: int | str) -> Lab:
    """The lab named ``lab`` (or with this id); NotFoundError if there is none."""
    if isinstance(lab, str):
        found = db.get_lab_by_name(lab)
        if found is not None:
            return found
        if not (lab.isascii() and lab.isdigit()):
            raise NotFoundError("Lab", lab)
    return db.get_lab(int(lab))


def default_lab(db: DatabaseService, *, create: bool = True) -> Lab | None:
    """The embedded database's default lab: the first admin's; None if there is none yet.

    ``create=True`` makes it when no admin has a lab yet: the lab called as the server's
    first start will call its own (``PYBIRCH_LAB_NAME``, "My Lab"), which it then adopts.
    """
    lab = db.first_admin_lab()
    if lab is None and create:
        name = default_lab_name()
        lab = db.get_lab_by_name(name) or db.create_lab(name)
    return lab


def lab_for_queue(
    db: DatabaseService,
    lab: int | str | NoLab | None = None,
    *,
    lab_id: int | None = None,
    project_id: int | None = None,
    create: bool = False,
) -> int | None:
    """The id of the lab a queue's records go to, by the rule of this module (None: no lab)."""
    if lab_id is not None:
        return lab_id
    if lab is NO_LAB:
        return None
    if lab is not None:
        return find_lab(db, lab).id
    if project_id is not None:
        with contextlib.suppress(NotFoundError):
            project_lab = db.get_project(project_id).lab_id
            if project_lab is not None:
                return project_lab
    if db.dialect == "sqlite":
        chosen = default_lab(db, create=create)
        if chosen is not None:
            return chosen.id
    log.warning(
        "a queue without a lab on %s: its scans are shown to no one in the web UI; "
        "pass lab='<lab name>' to DatabaseQueue (or start `pybirch serve` once first, "
        "on an embedded database)",
        db.url,
    )
    return None
