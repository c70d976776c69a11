"""Engines and sessions: one engine per database service, never shared or rebound.

SQLite connections get WAL (readers never block the writer), foreign keys, a busy
timeout (a second process waits instead of failing with "database is locked") and
``synchronous=NORMAL`` (safe in WAL mode; the spool covers the last commits). PostgreSQL
connections are checked before use so a server restart costs a reconnect, not an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from pybirch.database.config import normalize_url
from pybirch.database.errors import DatabaseConfigError

#: Milliseconds a SQLite connection waits for a lock held by another connection.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_database_engine(url_or_path: str | os.PathLike[str] | URL | None = None) -> Engine:
    """A new engine for ``url_or_path`` (see :func:`pybirch.database.config.normalize_url`)."""
    url = url_or_path if isinstance(url_or_path, URL) else normalize_url(url_or_path)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine`` whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    """True if ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    }
    if in_memory:
        options["poolclass"] = StaticPool
    else:
        folder = Path(url.database).expanduser().parent  # type: ignore[arg-type]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseConfigError(f"cannot create {folder} for {url}: {exc}") from exc
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
