"""Web server settings from the environment, with defaults that work on one computer."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pybirch.database import data_dir

SECRET_KEY_FILE = "web-secret-key"


@dataclass(frozen=True)
class WebConfig:
    """What the Flask app needs beyond the database."""

    secret_key: str
    #: Failed logins allowed per user name and address within ``login_window`` seconds.
    login_attempts: int = 5
    login_window: float = 300.0
    session_cookie_secure: bool = False

    @classmethod
    def from_environment(cls) -> WebConfig:
        """``SECRET_KEY`` (or one kept in the data directory), ``LOGIN_ATTEMPTS``..."""
        return cls(
            secret_key=os.environ.get("SECRET_KEY") or persistent_secret_key(data_dir()),
            login_attempts=int(os.environ.get("LOGIN_ATTEMPTS", "5")),
            login_window=float(os.environ.get("LOGIN_WINDOW_SECONDS", "300")),
            session_cookie_secure=os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        )


def persistent_secret_key(folder: Path) -> str:
    """A random key made once and kept (owner-only) in ``folder``, so sessions survive restarts."""
    path = folder / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key
