"""Password hashing with argon2 (argon2-cffi's defaults: argon2id)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

#: Shortest password accepted when one is set.
MIN_PASSWORD_LENGTH = 10


class PasswordPolicyError(ValueError):
    """A new password that is too weak to accept."""


def hash_password(password: str) -> str:
    """The argon2 hash to store for ``password`` (which must meet the policy)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash`` (False for accounts without one)."""
    if not stored_hash:
        _hasher.hash(password)  # same work either way: no hint which user names exist
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password to show once (16 url-safe characters)."""
    return secrets.token_urlsafe(12)
