"""Labs, users and memberships."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pybirch.database.errors import DatabaseError, NotFoundError
from pybirch.database.models import ApiToken, Lab, LabMembership, Role, User, utcnow
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.paging import Page


class MembershipDenied(DatabaseError, PermissionError):
    """The acting user may not make this membership change (too low a role, or an owner's)."""


class LastOwnerError(DatabaseError):
    """The change would leave a lab without an owner."""


class AccountsMixin(ServiceCore):
    """CRUD and search for labs, users and their roles."""

    def create_lab(self, name: str, **fields: Any) -> Lab:
        """A new lab named ``name``."""
        return self._create(Lab, name=name, **fields)

    def get_lab(self, lab_id: int) -> Lab:
        """The lab with this id (NotFoundError otherwise)."""
        return self._fetch(Lab, lab_id)

    def get_lab_by_name(self, name: str) -> Lab | None:
        """The lab named ``name``, or None."""
        with self.session() as session:
            return session.scalar(select(Lab).where(Lab.name == name))

    def update_lab(self, lab_id: int, **fields: Any) -> Lab:
        """Change a lab's fields."""
        return self._update(Lab, lab_id, **fields)

    def delete_lab(self, lab_id: int) -> None:
        """Delete a lab (refused while projects or samples still belong to it)."""
        self._delete(Lab, lab_id)

    def search_labs(self, text: str | None = None, page: int = 1, per_page: int = 50) -> Page[Lab]:
        """Labs whose name, code or description contains ``text``, by name."""
        return self._search(
            select(Lab).order_by(Lab.name),
            text=text,
            text_columns=(Lab.name, Lab.code, Lab.description),
            page=page,
            per_page=per_page,
        )

    def create_user(self, username: str, **fields: Any) -> User:
        """A new user (``password_hash`` is set by the web layer)."""
        return self._create(User, username=username, **fields)

    def get_user(self, user_id: int) -> User:
        """The user with this id."""
        return self._fetch(User, user_id)

    def get_user_by_username(self, username: str) -> User | None:
        """The user called ``username``, or None."""
        with self.session() as session:
            return session.scalar(select(User).where(User.username == username))

    def count_login_users(self) -> int:
        """Active users who have a password (who can log in)."""
        with self.session() as session:
            return int(
                session.scalar(
                    select(func.count(User.id)).where(
                        User.password_hash.is_not(None), User.is_active.is_(True)
                    )
                )
                or 0
            )

    def get_or_create_user(self, username: str) -> User:
        """The user called ``username``, created (unable to log in) if new."""
        return self.get_user_by_username(username) or self.create_user(username)

    def update_user(self, user_id: int, **fields: Any) -> User:
        """Change a user's fields; a new password goes through :meth:`set_password`."""
        if "password_hash" in fields:
            # A password changed any other way would leave the old sessions alive.
            raise DatabaseError("change a password with set_password, which ends old sessions")
        return self._update(User, user_id, **fields)

    def end_sessions(self, user_id: int) -> int:
        """Raise the user's session version, which ends every session made before; the new one."""
        return self._bump_session_version(user_id)

    def set_password(self, user_id: int, password_hash: str, *, one_time: bool = False) -> int:
        """Store a new password hash and end every session made before; the new version.

        ``one_time`` marks a password someone else chose (a new member's, a reset one): its
        owner must replace it at the next login.
        """
        return self._bump_session_version(
            user_id, password_hash=password_hash, must_change_password=one_time
        )

    def _bump_session_version(self, user_id: int, **fields: Any) -> int:
        with self.session() as session:
            # Counted in SQL, so two logouts at once both raise the version.
            version = session.scalar(
                update(User)
                .where(User.id == user_id)
                .values(session_version=User.session_version + 1, **fields)
                .returning(User.session_version)
            )
            if version is None:
                raise NotFoundError("user", user_id)
            return version

    def first_admin_lab(self) -> Lab | None:
        """The first lab owned by the earliest user who can log in (the server's first admin).

        None while no such user owns a lab. Scans stored from Python without a lab go there
        on an embedded database, so that the web UI shows them.
        """
        with self.session() as session:
            return session.scalar(
                select(Lab)
                .join(LabMembership, LabMembership.lab_id == Lab.id)
                .join(User, User.id == LabMembership.user_id)
                .where(
                    LabMembership.role == Role.OWNER,
                    User.password_hash.is_not(None),
                    User.is_active.is_(True),
                )
                .order_by(User.id, Lab.id)
                .limit(1)
            )

    def search_users(
        self, text: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page[User]:
        """Users whose username, name or email contains ``text``."""
        return self._search(
            select(User).order_by(User.username),
            text=text,
            text_columns=(User.username, User.display_name, User.email),
            page=page,
            per_page=per_page,
        )

    def set_membership(
        self, lab_id: int, user_id: int, role: Role | str, created_by_id: int | None = None
    ) -> LabMembership:
        """Give ``user_id`` the ``role`` in ``lab_id`` (adding or changing the membership)."""
        role = Role(role)
        with self.session() as session:
            self._get(session, Lab, lab_id)
            self._get(session, User, user_id)
            membership = _membership(session, lab_id, user_id)
            return _give_role(session, membership, lab_id, user_id, role, created_by_id)

    def change_membership(
        self, lab_id: int, user_id: int, role: Role | None, *, by: int
    ) -> LabMembership | None:
        """Give ``user_id`` the ``role`` in the lab (None removes them), as user ``by`` asks.

        The one rule for every change of membership: only admins and owners change
        memberships; only an owner grants ownership or changes or removes an owner; a lab
        always keeps an owner. Raises :class:`MembershipDenied` or :class:`LastOwnerError`.
        """
        with self.session() as session:
            # Lock the lab row, so two owners demoting each other at once cannot both
            # count the other as the owner who stays (PostgreSQL; SQLite has one writer).
            lab = session.scalar(select(Lab).where(Lab.id == lab_id).with_for_update())
            if lab is None:
                raise NotFoundError("lab", lab_id)
            self._get(session, User, user_id)
            actor = self._role(session, lab_id, by)
            if actor is None or not actor.allows(Role.ADMIN):
                raise MembershipDenied("only a lab's admins and owners change its members")
            membership = _membership(session, lab_id, user_id)
            current = None if membership is None else membership.role
            if Role.OWNER in (current, role) and actor is not Role.OWNER:
                raise MembershipDenied("only an owner grants, changes or removes ownership")
            if current is Role.OWNER and role is not Role.OWNER:
                owners = session.scalar(
                    select(func.count(LabMembership.id)).where(
                        LabMembership.lab_id == lab_id, LabMembership.role == Role.OWNER
                    )
                )
                if (owners or 0) <= 1:
                    raise LastOwnerError("a lab keeps at least one owner")
            if role is None:
                if membership is not None:
                    session.delete(membership)
                return None
            return _give_role(session, membership, lab_id, user_id, role, by)

    def remove_membership(self, lab_id: int, user_id: int) -> bool:
        """Take ``user_id`` out of ``lab_id``; False if they were not in it."""
        with self.session() as session:
            membership = _membership(session, lab_id, user_id)
            if membership is None:
                return False
            session.delete(membership)
            return True

    def get_role(self, lab_id: int, user_id: int) -> Role | None:
        """The user's role in the lab, or None if not a member."""
        with self.session() as session:
            return self._role(session, lab_id, user_id)

    @staticmethod
    def _role(session: Session, lab_id: int, user_id: int) -> Role | None:
        return member_role(session, lab_id, user_id)

    def list_memberships(self, lab_id: int) -> list[tuple[User, Role, datetime]]:
        """Every member of the lab with their role and when they joined it, by username."""
        with self.session() as session:
            rows = session.execute(
                select(User, LabMembership.role, LabMembership.created_at)
                .join(LabMembership, LabMembership.user_id == User.id)
                .where(LabMembership.lab_id == lab_id)
                .order_by(User.username)
            ).all()
            return [(user, role, joined) for user, role, joined in rows]

    def labs_of_user(self, user_id: int) -> list[tuple[Lab, Role]]:
        """Every lab the user belongs to, with their role there."""
        with self.session() as session:
            rows = session.execute(
                select(Lab, LabMembership.role)
                .join(LabMembership, LabMembership.lab_id == Lab.id)
                .where(LabMembership.user_id == user_id)
                .order_by(Lab.name)
            ).all()
            return [(lab, role) for lab, role in rows]

    def create_api_token(self, user_id: int, name: str) -> tuple[ApiToken, str]:
        """A new personal token; the token itself is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = self._create(
            ApiToken,
            user_id=user_id,
            name=name,
            prefix=token[: len(TOKEN_PREFIX) + 4],
            token_hash=token_digest(token),
            created_by_id=user_id,
        )
        return record, token

    def user_for_token(self, token: str) -> User | None:
        """The active user a valid, unrevoked token belongs to (its use is recorded)."""
        with self.session() as session:
            record = session.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)
                )
            )
            if record is None:
                return None
            user = self._get(session, User, record.user_id)
            if not user.is_active:
                return None
            record.last_used_at = utcnow()
            return user

    def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        """A user's tokens, newest first (revoked ones included)."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
                )
            )

    def revoke_api_token(self, token_id: int, user_id: int) -> bool:
        """Revoke one of the user's tokens; False if it is not theirs or already revoked."""
        with self.session() as session:
            record = session.get(ApiToken, token_id)
            if record is None or record.user_id != user_id or record.revoked_at is not None:
                return False
            record.revoked_at = utcnow()
            return True


#: Every PyBirch token starts so, which makes a leaked one easy to recognise.
TOKEN_PREFIX = "pbt_"


def member_role(session: Session, lab_id: int, user_id: int) -> Role | None:
    """The user's role in the lab, or None if not a member."""
    return session.scalar(
        select(LabMembership.role).where(
            LabMembership.lab_id == lab_id, LabMembership.user_id == user_id
        )
    )


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _membership(session: Session, lab_id: int, user_id: int) -> LabMembership | None:
    """The user's membership of the lab, if any."""
    return session.scalar(
        select(LabMembership).where(
            LabMembership.lab_id == lab_id, LabMembership.user_id == user_id
        )
    )


def _give_role(
    session: Session,
    membership: LabMembership | None,
    lab_id: int,
    user_id: int,
    role: Role,
    created_by_id: int | None,
) -> LabMembership:
    """Change ``membership``'s role, or make the membership when there is none."""
    if membership is None:
        membership = LabMembership(
            lab_id=lab_id, user_id=user_id, role=role, created_by_id=created_by_id
        )
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership
