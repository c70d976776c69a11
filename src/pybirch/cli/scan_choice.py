"""Which scan a command means: a full public id, a database id, or a unique prefix.

Commands print scan ids shortened (``pybirch demo`` prints the first
:data:`SHORT_ID_LENGTH` characters); any prefix that one scan alone starts with names it.
"""

from __future__ import annotations

import click

from pybirch.database import DatabaseService
from pybirch.database.export.errors import ExportNotFoundError
from pybirch.database.export.source import find_scan

#: How many characters of a scan id commands print.
SHORT_ID_LENGTH = 8
#: How many candidates an ambiguous prefix lists.
LISTED_MATCHES = 10


def short_id(scan_id: str) -> str:
    """The shortened form of a public scan id that commands print."""
    return scan_id[:SHORT_ID_LENGTH]


def resolve_scan_id(db: DatabaseService, text: str) -> str:
    """The full public id of the scan ``text`` names (ClickException if none or several).

    An exact public id or database id wins; otherwise ``text`` must be the start of
    exactly one scan's id.
    """
    try:
        return find_scan(db, text).scan_id
    except ExportNotFoundError:
        pass
    matches = db.scan_ids_starting_with(text, limit=LISTED_MATCHES + 1)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise click.ClickException(
            f"scan {text!r} not found in {db.url} (no scan's id is or starts with it)"
        )
    shown = "\n  ".join(matches[:LISTED_MATCHES])
    more = "\n  ..." if len(matches) > LISTED_MATCHES else ""
    raise click.ClickException(
        f"{text!r} starts the id of several scans; give more characters:\n  {shown}{more}"
    )
