"""Shared fixtures: an isolated data directory, and databases on both SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from database_support import TemporaryPostgresDatabase, require_postgres

if TYPE_CHECKING:
    from pybirch.database import DatabaseService


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the user's data directory, configured database and .env."""
    monkeypatch.setenv("PYBIRCH_DATA_DIR", str(tmp_path / "pybirch-data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # A developer's .env (say with their own DATABASE_URL) in the checkout is never read.
    monkeypatch.setenv("PYBIRCH_ENV_FILE", os.devnull)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server URL; skips (fails when ``CI`` is set) if it is unreachable."""
    return require_postgres()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    with TemporaryPostgresDatabase(postgres_server) as database:
        yield database.url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/pybirch.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(database_url: str) -> Iterator[DatabaseService]:
    """A migrated DatabaseService on ``database_url``, closed after the test."""
    from pybirch.database import DatabaseService

    service = DatabaseService(database_url, auto_upgrade=True)
    try:
        yield service
    finally:
        service.close()


REDIS_URL = os.environ.get("PYBIRCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    """Whether the test Redis answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test Redis, set as ``REDIS_URL``; skips (fails when ``CI`` is set) if unreachable."""
    if not redis_available():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    return REDIS_URL
