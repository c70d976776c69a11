"""First start of a server on an empty database: a lab and an admin who can log in."""

from __future__ import annotations

from dataclasses import dataclass

from pybirch.database import DatabaseService
from pybirch.database.config import default_lab_name
from pybirch.database.models import Role
from pybirch.web.auth.passwords import generate_password, hash_password

ADMIN_USERNAME = "admin"

__all__ = ["ADMIN_USERNAME", "FirstAdmin", "default_lab_name", "ensure_first_admin"]


@dataclass(frozen=True)
class FirstAdmin:
    """The account made on first start; ``password`` is shown once and never stored."""

    username: str
    password: str
    lab_name: str


def ensure_first_admin(db: DatabaseService, password: str | None = None) -> FirstAdmin | None:
    """Create a lab and its owner if no one can log in yet; None if someone can."""
    if db.count_login_users():
        return None
    password = password or generate_password()
    lab_name = default_lab_name()
    lab = db.get_lab_by_name(lab_name) or db.create_lab(lab_name)
    user = db.get_user_by_username(ADMIN_USERNAME)
    if user is None:
        user = db.create_user(
            ADMIN_USERNAME, display_name="Lab admin", password_hash=hash_password(password)
        )
    else:
        db.set_password(user.id, hash_password(password))
        db.update_user(user.id, is_active=True)
    db.set_membership(lab.id, user.id, Role.OWNER)
    return FirstAdmin(ADMIN_USERNAME, password, lab.name)
