"""Web server settings from the configuration, with defaults that work on one computer."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pybirch.configuration import IntegrationConfig, current_config
from pybirch.database import data_dir

SECRET_KEY_FILE = "web-secret-key"


@dataclass(frozen=True)
class WebConfig:
    """What the Flask app needs beyond the database.

    Every field has an environment variable (see :meth:`from_environment` and
    :class:`~pybirch.configuration.IntegrationConfig`, which also reads a ``.env`` file).

    HTTPS: the session cookie is marked ``Secure`` whenever the request came over HTTPS,
    and always with ``SESSION_COOKIE_SECURE=1``. Behind a reverse proxy that ends TLS, set
    ``PYBIRCH_BEHIND_PROXY=1`` so the proxy's ``X-Forwarded-Proto``/``-For``/``-Host``
    headers are believed (one proxy hop): requests then count as HTTPS and the login
    throttle sees the browser's address instead of the proxy's. Never set it without a
    proxy in front, or any client could claim any address.
    """

    secret_key: str
    #: Failed logins allowed per user name and address within ``login_window`` seconds.
    login_attempts: int = 5
    #: Failed logins allowed per address, whatever the user names, in the same window.
    login_address_attempts: int = 20
    login_window: float = 300.0
    #: Password hashes (argon2, ~64 MiB each) computed at once; more wait in line.
    hash_concurrency: int = 2
    #: Password checks allowed to wait for a free slot; beyond that the answer is 503.
    hash_waiting: int = 8
    #: Longest wait in line for a password check before the answer is 503.
    hash_wait_seconds: float = 10.0
    session_cookie_secure: bool = False
    #: A session ends this long after its last request (and at once on logout).
    session_lifetime_hours: float = 12.0
    #: Trust one reverse proxy's ``X-Forwarded-*`` headers (see the class docstring).
    behind_proxy: bool = False
    #: Largest request body accepted; larger ones get 413.
    max_content_length: int = 16 * 1024 * 1024
    #: Largest picture accepted (width x height), checked before it is decoded; None keeps
    #: the picture codec's own limit.
    max_image_pixels: int | None = None

    @classmethod
    def from_environment(cls) -> WebConfig:
        """``SECRET_KEY`` (or one kept in the data directory), ``LOGIN_ATTEMPTS``..."""
        return cls.from_config(current_config())

    @classmethod
    def from_config(cls, config: IntegrationConfig) -> WebConfig:
        """The web server's part of ``config`` (a secret key made and kept if it has none)."""
        return cls(
            secret_key=config.secret_key or persistent_secret_key(data_dir()),
            login_attempts=config.login_attempts,
            login_address_attempts=config.login_address_attempts,
            login_window=config.login_window_seconds,
            hash_concurrency=config.password_hash_concurrency,
            hash_waiting=config.password_hash_waiting,
            hash_wait_seconds=config.password_hash_wait_seconds,
            session_cookie_secure=config.session_cookie_secure,
            session_lifetime_hours=config.session_lifetime_hours,
            behind_proxy=config.behind_proxy,
            max_content_length=config.max_content_length,
            max_image_pixels=config.max_image_pixels,
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
