"""Computers that run instruments and queues: a lab's agents, each with a token of its own,
and a server's own computer (no lab).

A computer is known by the id it reports of itself (``computer_id``, see
:func:`pybirch.definitions.get_computer_info`), unique within its lab. An admin adds a lab
computer by name and hands its agent a token; the agent's first report fills in its
machine id, host name and OS (:meth:`ComputerServices.record_computer_presence`). If
another record of the lab already holds that machine id (the machine was added twice),
the report is refused with :class:`ComputerConflictError` naming that record: merging
would silently move one computer's instruments to another token, so an admin decides
(give the agent the existing computer's token, or remove the stale record).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from pybirch.database.errors import (
    AmbiguousComputerError,
    ComputerConflictError,
    DuplicateError,
    NotFoundError,
)
from pybirch.database.models import Computer, Lab, utcnow
from pybirch.database.services.accounts import token_digest
from pybirch.database.services.core import ServiceCore

log = logging.getLogger(__name__)

#: Every computer token starts so, telling it apart from a personal ``pbt_`` token.
COMPUTER_TOKEN_PREFIX = "pbc_"

#: The longest computer name the web form and the service accept.
MAX_COMPUTER_NAME = 100
#: The longest nickname (what the lab calls a computer).
MAX_NICKNAME = 100
#: The longest location ("room 2.14, bench 3").
MAX_LOCATION = 255
#: The longest machine id a computer may report (the column's size).
MAX_MACHINE_ID = 255

#: What a computer reports of itself (get_computer_info's keys) -> (column, its size).
#: ``hostname`` is what agents before get_computer_info called their host name; a report
#: with both keeps ``computer_name`` (it comes later).
_REPORTED = {
    "hostname": ("hostname", 255),
    "computer_name": ("hostname", 255),
    "os": ("os", 50),
    "username": ("username", 100),
    "platform": ("platform", 255),
}


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
            # No machine id yet: the agent reports it on first contact.
            computer = Computer(
                lab_id=lab_id,
                computer_name=name,
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
        """Note that the agent was just heard from, online or going offline, and what it said.

        ``info`` may carry what :func:`pybirch.definitions.get_computer_info` returns; its
        machine id, host name, OS, user and platform fill the record (ComputerConflictError
        if another computer of the lab already has that machine id).
        """
        with self.session() as session:
            row = self._get(session, Computer, computer)
            if info is not None:
                machine = _machine_id(info)
                if machine is not None and machine != row.computer_id:
                    _check_machine_free(session, row, machine)
                    if row.computer_id is not None:
                        # The token moved to another machine (a replaced PC): follow it.
                        log.warning(
                            "computer %r (%d) now reports another machine id",
                            row.computer_name,
                            row.id,
                        )
                    row.computer_id = machine
                _fill_reported(row, info)
            # A new dict, not an edit in place: JSON columns only notice reassignment.
            extra = {**(row.extra_data or {}), "online": online}
            if info is not None:
                extra["agent"] = dict(info)
            row.extra_data = extra
            row.last_seen = utcnow()
            return row

    def register_computer(self, info: dict[str, Any], lab_id: int | None = None) -> Computer:
        """Find or create the computer ``info`` describes (get_computer_info's keys) in a lab.

        ``lab_id`` None registers a server's own computer. Host name, OS, user, platform
        and ``last_seen`` are refreshed; a new computer is named by its host name.
        """
        machine = _machine_id(info)
        if machine is None:
            raise ValueError("a computer registers with its computer_id (get_computer_info)")
        try:
            return self._register_computer(machine, info, lab_id)
        except DuplicateError:
            # Another process registered the same computer between our lookup and insert
            # (several server workers start at once): it exists now, so refresh it.
            return self._register_computer(machine, info, lab_id)

    def _register_computer(
        self, machine: str, info: dict[str, Any], lab_id: int | None
    ) -> Computer:
        with self.session() as session:
            if lab_id is not None:
                self._get(session, Lab, lab_id)
            row = session.scalar(
                select(Computer).where(_in_lab(lab_id), Computer.computer_id == machine)
            )
            if row is None:
                row = Computer(lab_id=lab_id, computer_id=machine, extra_data={})
                session.add(row)
            _fill_reported(row, info)
            if row.computer_name is None:
                row.computer_name = row.hostname or machine
            row.last_seen = utcnow()
            session.flush()
            return row

    def update_computer(
        self,
        computer_pk: int,
        *,
        nickname: str | None = None,
        location: str | None = None,
        lab_id: int | None = None,
    ) -> Computer:
        """Set what the lab calls a computer and where it stands ("" clears, None keeps).

        With ``lab_id`` the computer must belong to that lab (NotFoundError otherwise).
        """
        with self.session() as session:
            row = self._get(session, Computer, computer_pk)
            if lab_id is not None and row.lab_id != lab_id:
                raise NotFoundError("Computer", computer_pk)
            if nickname is not None:
                row.nickname = _checked_text(nickname, "nickname", MAX_NICKNAME)
                if row.nickname is not None:
                    _check_nickname_free(session, row, row.nickname)
            if location is not None:
                row.location = _checked_text(location, "location", MAX_LOCATION)
            return row


def find_computer(
    session: Session,
    *,
    computer_pk: int | None = None,
    computer_name: str | None = None,
    lab_id: int | None = None,
    server_computers: bool = True,
) -> Computer:
    """The computer with this id, or answering to this name, as a lab may see it.

    By id: a computer of ``lab_id`` (any lab if None) or a lab-less server computer. By
    name (its nickname, name or host name): first among the lab's computers, then, if
    ``server_computers``, among the server computers; ``lab_id`` None looks among the
    server computers only. NotFoundError if none, AmbiguousComputerError if several.
    """
    if computer_pk is not None:
        row = session.get(Computer, computer_pk)
        allowed = (lab_id, None) if server_computers else (lab_id,)
        if row is None or (lab_id is not None and row.lab_id not in allowed):
            raise NotFoundError("Computer", computer_pk)
        if computer_name is not None and computer_name not in _names(row):
            raise NotFoundError("Computer", f"{computer_name} (id {computer_pk})")
        return row
    if not computer_name:
        raise ValueError("name the computer by its id or its name")
    scopes = [lab_id] if lab_id is None or not server_computers else [lab_id, None]
    for scope in scopes:
        found = list(
            session.scalars(
                _named(computer_name).where(_in_lab(scope)).order_by(Computer.id).limit(2)
            )
        )
        if len(found) > 1:
            raise AmbiguousComputerError(
                f"several computers are called {computer_name!r}; name one by its id"
            )
        if found:
            return found[0]
    raise NotFoundError("Computer", computer_name)


def _named(name: str) -> Select[tuple[Computer]]:
    return select(Computer).where(
        or_(
            Computer.nickname == name,
            Computer.computer_name == name,
            Computer.hostname == name,
        )
    )


def _names(row: Computer) -> set[str]:
    return {name for name in (row.nickname, row.computer_name, row.hostname) if name}


def _in_lab(lab_id: int | None) -> Any:
    """The computers of a lab; None: the server computers (no lab), not every computer."""
    return Computer.lab_id.is_(None) if lab_id is None else Computer.lab_id == lab_id


def _machine_id(info: dict[str, Any]) -> str | None:
    """The machine id a report carries, checked; None if it carries none."""
    value = info.get("computer_id")
    if value is None or not str(value).strip():
        return None
    machine = str(value).strip()
    if len(machine) > MAX_MACHINE_ID:
        raise ValueError(f"a computer_id has at most {MAX_MACHINE_ID} characters")
    return machine


def _fill_reported(row: Computer, info: dict[str, Any]) -> None:
    """Copy what a computer says of itself onto its record, cut to the columns' sizes."""
    for key, (column, size) in _REPORTED.items():
        value = info.get(key)
        if value is not None and str(value).strip():
            setattr(row, column, str(value).strip()[:size])


def _check_machine_free(session: Session, row: Computer, machine: str) -> None:
    """ComputerConflictError if another computer of the row's lab has this machine id."""
    other = session.scalar(
        select(Computer).where(
            _in_lab(row.lab_id), Computer.computer_id == machine, Computer.id != row.id
        )
    )
    if other is not None:
        raise ComputerConflictError(
            f"this machine is already registered in the lab as computer "
            f"{other.display_name!r} (id {other.id}); start its agent with that computer's "
            f"token (New token on the Computers page), or remove {other.display_name!r} first",
            other.id,
        )


def _check_nickname_free(session: Session, row: Computer, nickname: str) -> None:
    """DuplicateError if another computer of the lab answers to this name already."""
    other = session.scalar(
        _named(nickname).where(_in_lab(row.lab_id), Computer.id != row.id).limit(1)
    )
    if other is not None:
        raise DuplicateError(f"another computer of the lab is called {nickname!r}")


def _checked_text(value: str, what: str, longest: int) -> str | None:
    text = value.strip()
    if len(text) > longest:
        raise ValueError(f"a {what} has at most {longest} characters")
    return text or None


def _new_token() -> str:
    return COMPUTER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _checked_name(computer_name: str) -> str:
    name = (computer_name or "").strip()
    if not name:
        raise ValueError("a computer needs a name")
    if len(name) > MAX_COMPUTER_NAME:
        raise ValueError(f"a computer name has at most {MAX_COMPUTER_NAME} characters")
    return name
