"""Labs, users and who may do what in which lab."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, Created, Updated

if TYPE_CHECKING:
    from pybirch.database.models.projects import Project


class Role(enum.StrEnum):
    """A user's role in one lab, from most to least powerful."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is more powerful."""
        return {"owner": 3, "admin": 2, "member": 1, "viewer": 0}[self.value]

    def allows(self, needed: Role) -> bool:
        """True if this role may do what ``needed`` may."""
        return self.rank >= needed.rank


def enum_column(kind: type[enum.Enum]) -> Enum:
    """An enum stored as its string value (portable, readable in SQL)."""
    return Enum(
        kind,
        native_enum=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class User(Base, Created):
    """A person who logs in, runs scans or owns data."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    #: argon2 hash; None for accounts that cannot log in (an operator name from a script).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Raised on logout and on a password change: sessions signed with an older value end.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Set for a one-time password (a new user, a reset): changed at the next login.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())

    memberships: Mapped[list[LabMembership]] = relationship(
        back_populates="user", foreign_keys="LabMembership.user_id", cascade="all, delete-orphan"
    )


class Lab(Base, Updated):
    """A research group: the unit that owns projects, samples, instruments and scans."""

    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    code: Mapped[str | None] = mapped_column(String(50), unique=True, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Refuse a scan whose instrument's calibration or maintenance is overdue; by default
    #: such a scan runs and its record carries a warning.
    block_overdue_scans: Mapped[bool] = mapped_column(default=False, server_default=false())

    memberships: Mapped[list[LabMembership]] = relationship(
        back_populates="lab", cascade="all, delete-orphan"
    )
    # passive_deletes="all": the database refuses to delete a lab that still has projects,
    # rather than the ORM quietly detaching them first.
    projects: Mapped[list[Project]] = relationship(back_populates="lab", passive_deletes="all")


class LabMembership(Base, Created):
    """A user's role in a lab."""

    __tablename__ = "lab_memberships"
    __table_args__ = (UniqueConstraint("lab_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.MEMBER)

    lab: Mapped[Lab] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])


class ApiToken(Base, Created):
    """A personal token for scripts; only its SHA-256 is stored, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The first characters of the token, to tell tokens apart in a list.
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
