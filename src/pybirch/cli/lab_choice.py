"""Which lab, and which of its members, a command acts for: ``--lab`` and ``--user``."""

from __future__ import annotations

import contextlib

import click

from pybirch.configuration import current_config
from pybirch.database import DatabaseService, NotFoundError
from pybirch.database.models import Lab, Role

#: The ``--lab LAB`` option of commands that act in one lab.
lab_option = click.option(
    "--lab",
    "lab_name",
    metavar="LAB",
    default=None,
    help="Lab name or id [default: PYBIRCH_LAB_NAME, else the database's only lab].",
)

#: The ``--user NAME`` option of commands that write as a lab member.
user_option = click.option(
    "--user",
    "user_name",
    metavar="NAME",
    default=None,
    help="User name of the author, a member of the lab [default: the lab's owner].",
)


def choose_lab(db: DatabaseService, lab_name: str | None, *, required: bool = True) -> Lab | None:
    """The lab ``--lab`` names, or the default one; None only if not required and none exists."""
    wanted = lab_name or current_config().lab_name
    if wanted:
        lab = db.get_lab_by_name(wanted)
        if lab is None and wanted.isdigit():
            with contextlib.suppress(NotFoundError):
                lab = db.get_lab(int(wanted))
        if lab is None:
            raise click.ClickException(f"no lab called {wanted!r} in {db.url}")
        return lab
    labs = db.search_labs(per_page=20)
    if labs.total == 1:
        return labs.items[0]
    if labs.total == 0 and not required:
        return None
    if labs.total == 0:
        raise click.ClickException(f"{db.url} has no lab yet: `pybirch serve` makes the first one")
    names = ", ".join(repr(lab.name) for lab in labs.items)
    more = ", ..." if labs.total > len(labs.items) else ""
    raise click.ClickException(f"{db.url} has several labs ({names}{more}): choose one with --lab")


def choose_author(db: DatabaseService, lab: Lab, user_name: str | None) -> int:
    """The id of the user ``--user`` names, who writes in ``lab``; default: its owner."""
    members = db.list_memberships(lab.id)
    if user_name is not None:
        found = next(((u, r) for u, r, _ in members if u.username == user_name), None)
        if found is None or not found[1].allows(Role.MEMBER):
            raise click.ClickException(f"{user_name!r} is no writing member of lab {lab.name!r}")
        return found[0].id
    for wanted in (Role.OWNER, Role.ADMIN):
        for user, role, _ in members:
            if role == wanted:
                return user.id
    raise click.ClickException(f"lab {lab.name!r} has no owner or admin: name one with --user")
