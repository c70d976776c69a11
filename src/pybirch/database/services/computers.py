"""Lab computers that run queues as agents, each with a token of its own."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import select

from pybirch.database.errors import DuplicateError
from pybirch.database.models import Computer, Lab, utcnow
from pybirch.database.services.accounts import token_digest
from pybirch.database.services.core import ServiceCore

#: Every computer token starts so, telling it apart from a personal ``pbt_`` token.
COMPUTER_TOKEN_PREFIX = "pbc_"

#: The longest computer name the web form and the service accept.
MAX_COMPUTER_NAME = 100


class ComputerServices(ServiceCore):
    """Registering lab computers, their agent tokens and whether they are online."""

    def create_computer(
        self, lab_id: int, computer_name: str, created_by_id: int | None = None
    ) -> tuple[Computer, str]:
        """A new computer of the lab and its token, returned once and stored only hashed."""
        name = _checked_name(computer_name)
        token = _new_token()
        with self.session() as session:
            self._get(session, Lab, lab_id)
            taken = session.scalar(
                select(Computer.id).where(Computer.lab_id == lab_id, Computer.computer_name == name)
            )
            if taken is not None:
                raise DuplicateError(f"the lab already has a computer called {name!r}")
            computer = Computer(
                lab_id=lab_id,
                computer_name=name,
                computer_id=uuid.uuid4().hex,
                token_hash=token_digest(token),
                created_by_id=created_by_id,
            )
            session.add(computer)
            session.flush()
            return computer, token

    def computer_for_token(self, token: str) -> Computer | None:
        """The computer this token belongs to, or None for an unknown or empty token."""
        if not token:
            return None
        with self.session() as session:
            return session.scalar(
                select(Computer).where(Computer.token_hash == token_digest(token))
            )

    def list_computers(self, lab_id: int) -> list[Computer]:
        """The lab's computers, by name."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(Computer)
                    .where(Computer.lab_id == lab_id)
                    .order_by(Computer.computer_name, Computer.id)
                )
            )

    def get_computer(self, computer: int) -> Computer:
        """The computer with this id (NotFoundError otherwise)."""
        return self._fetch(Computer, computer)

    def reset_computer_token(self, computer: int) -> str:
        """A new token for the computer; its old one stops working at once."""
        token = _new_token()
        self._update(Computer, computer, token_hash=token_digest(token))
        return token

    def delete_computer(self, computer: int) -> None:
        """Forget a computer (its token and instrument bindings with it)."""
        self._delete(Computer, computer)

    def record_computer_presence(
        self, computer: int, *, online: bool, info: dict[str, Any] | None = None
    ) -> Computer:
        """Note that the agent was just heard from, online or going offline, and what it said."""
        with self.session() as session:
            row = self._get(session, Computer, computer)
            # A new dict, not an edit in place: JSON columns only notice reassignment.
            extra = {**(row.extra_data or {}), "online": online}
            if info is not None:
                extra["agent"] = dict(info)
                if info.get("platform"):
                    row.platform = str(info["platform"])
                if info.get("username"):
                    row.username = str(info["username"])
            row.extra_data = extra
            row.last_seen = utcnow()
            return row


def _new_token() -> str:
    return COMPUTER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _checked_name(computer_name: str) -> str:
    name = (computer_name or "").strip()
    if not name:
        raise ValueError("a computer needs a name")
    if len(name) > MAX_COMPUTER_NAME:
        raise ValueError(f"a computer name has at most {MAX_COMPUTER_NAME} characters")
    return name
