"""Names of the users who wrote, approved or changed things, for pages and API documents."""

from __future__ import annotations

from collections.abc import Iterable

from pybirch.database.errors import NotFoundError
from pybirch.web.services import database


def display_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Each user's display name (or user name) by id; unknown ids are left out."""
    db = database()
    names: dict[int, str] = {}
    for user_id in {i for i in user_ids if i is not None}:
        try:
            user = db.get_user(user_id)
        except NotFoundError:
            continue
        names[user_id] = user.display_name or user.username
    return names
