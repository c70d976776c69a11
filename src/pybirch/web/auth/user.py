"""The logged-in user as Flask-Login sees it."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin

from pybirch.database.models import User


@dataclass(frozen=True)
class WebUser(UserMixin):
    """A snapshot of a database user for the length of one request."""

    id: int
    username: str
    display_name: str
    active: bool
    #: The password is a one-time one (given by an admin): pages wait until it is replaced.
    must_change_password: bool = False

    @classmethod
    def from_record(cls, user: User) -> WebUser:
        """The web user of a database user."""
        return cls(
            user.id,
            user.username,
            user.display_name or user.username,
            user.is_active,
            bool(user.must_change_password),
        )

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        return str(self.id)
