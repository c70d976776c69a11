"""Password hashing with argon2 (argon2-cffi's defaults: argon2id), and a bound on its cost.

Each argon2 hash takes about 64 MiB and a few hundred milliseconds of one core, so a
server that checks every password it is sent at once can be exhausted by a burst of
wrong ones. :class:`HashGate` lets a few checks run, a few more wait, and refuses the rest.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

#: ``app.extensions`` key of the app's :class:`HashGate`.
HASH_GATE_KEY = "pybirch.hash_gate"

#: Shortest password accepted when one is set.
MIN_PASSWORD_LENGTH = 10


class PasswordPolicyError(ValueError):
    """A new password that is too weak to accept."""


class ServerBusyError(RuntimeError):
    """Too many password checks are running or waiting: try again in ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many password checks at once; try again in {retry_after} s")
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    """The argon2 hash to store for ``password`` (which must meet the policy)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


@functools.cache
def stand_in_hash() -> str:
    """A hash of a random password, made with the same parameters as real ones."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash`` (False for accounts without one).

    An account without a hash (or no account: pass None) is checked against a stand-in
    hash, so the answer costs the same and does not tell which user names exist.
    """
    try:
        matches = _hasher.verify(stored_hash or stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and bool(stored_hash)


def generate_password() -> str:
    """A random password to show once (16 url-safe characters)."""
    return secrets.token_urlsafe(12)


class HashGate:
    """At most ``concurrent`` password hashes at once, ``waiting`` more in line, no others.

    A request beyond the line, or one that waits longer than ``wait`` seconds, gets
    :class:`ServerBusyError` at once instead of holding a thread and its memory.
    """

    def __init__(self, concurrent: int, waiting: int, wait: float) -> None:
        self.concurrent = concurrent
        self.waiting = waiting
        self.wait = wait
        self._slots = threading.BoundedSemaphore(concurrent)
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def retry_after(self) -> int:
        """Seconds a refused client is told to wait: about one line's worth of hashes."""
        return max(1, round(self.wait))

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hashing slot for the ``with`` block (ServerBusyError if none comes)."""
        with self._lock:
            if self._admitted >= self.concurrent + self.waiting:
                raise ServerBusyError(self.retry_after)
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self.wait):
                raise ServerBusyError(self.retry_after)
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1
