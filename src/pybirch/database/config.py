"""Where PyBirch keeps its data: the database URL and the local data directory.

``DATABASE_URL`` selects the database (any SQLAlchemy URL: ``sqlite:///path.db`` or
``postgresql+psycopg://user@host/db``). Without it PyBirch uses a SQLite file in the
data directory, which is ``PYBIRCH_DATA_DIR`` or the user's data directory
(``~/.local/share/pybirch`` on Linux). The spool of not-yet-committed batches lives in
the data directory too. Both are read by :func:`pybirch.configuration.current_config`
(environment, then a ``.env`` file).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pybirch.configuration import DEFAULT, current_config
from pybirch.database.errors import DatabaseConfigError

#: Name of the lab made on a server's first start, unless ``PYBIRCH_LAB_NAME`` says otherwise.
DEFAULT_LAB_NAME = "My Lab"


def default_lab_name() -> str:
    """The name of the lab made on first start (``PYBIRCH_LAB_NAME``, else "My Lab")."""
    return current_config().lab_name or DEFAULT_LAB_NAME


def data_dir() -> Path:
    """The local data directory (created if missing)."""
    path = current_config().data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseConfigError(f"cannot create the data directory {path}: {exc}") from exc
    return path


def default_database_url() -> str:
    """``DATABASE_URL``, or a SQLite file in :func:`data_dir` (which is made if missing)."""
    config = current_config()
    if config.source_of("DATABASE_URL") == DEFAULT:
        data_dir()  # the default SQLite file's folder
    return config.database_url


def normalize_url(url_or_path: str | os.PathLike[str] | None) -> URL:
    """A SQLAlchemy URL from a URL, a path to a SQLite file, or None for the default.

    ``postgresql://`` URLs are given the psycopg 3 driver.
    """
    if url_or_path is None:
        text = default_database_url()
    elif isinstance(url_or_path, os.PathLike) or "://" not in str(url_or_path):
        text = f"sqlite:///{Path(url_or_path).expanduser().resolve()}"
    else:
        text = str(url_or_path)
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"not a database URL: {text!r}") from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseConfigError(
            f"unsupported database {url.get_backend_name()!r}; use SQLite or PostgreSQL"
        )
    return url
