"""The database test infrastructure itself: throwaway PostgreSQL databases and TcpProxy."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from database_support import (
    CONNECT_TIMEOUT_S,
    TcpProxy,
    TemporaryPostgresDatabase,
    libpq_url,
    postgres_available,
    require_postgres,
)
from pybirch.database.engine import create_database_engine


def database_names(server_url: str) -> set[str]:
    """Names of the databases on the server."""
    with psycopg.connect(libpq_url(server_url)) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def select_one(url: str) -> int:
    """``SELECT 1`` over a new connection to ``url``."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("TcpProxy")]


@pytest.fixture
def proxy(postgres_server: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_server)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running
    assert proxy_threads() == []


def test_temporary_database_is_created_and_dropped(postgres_server: str) -> None:
    with TemporaryPostgresDatabase(postgres_server) as database:
        assert database.name in database_names(postgres_server)
        assert select_one(database.url) == 1
        held_open = psycopg.connect(database.url)  # dropped WITH (FORCE) despite this
    assert database.name not in database_names(postgres_server)
    with pytest.raises(psycopg.OperationalError):
        held_open.execute("SELECT 1")
    held_open.close()


def test_temporary_database_names_are_unique(postgres_server: str) -> None:
    assert TemporaryPostgresDatabase(postgres_server).name != TemporaryPostgresDatabase().name


def test_postgres_url_fixture_gives_an_empty_database(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


def test_database_url_is_a_fresh_database_per_backend(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.id == "sqlite":
        assert database_url == f"sqlite:///{tmp_path}/pybirch.db"
    else:
        assert make_url(database_url).database.startswith("pybirch_test_")
        assert select_one(database_url) == 1


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("1", pytest.fail.Exception), ("", pytest.skip.Exception)],
    ids=["ci-fails", "local-skips"],
)
def test_unreachable_postgres_fails_under_ci_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("PYBIRCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    monkeypatch.setenv("CI", ci)
    assert not postgres_available()
    with pytest.raises(outcome, match=r"not reachable at .*127\.0\.0\.1:1/"):
        require_postgres()


def test_data_dir_is_isolated(tmp_path: Path) -> None:
    assert os.environ["PYBIRCH_DATA_DIR"].startswith(str(tmp_path))
    assert "DATABASE_URL" not in os.environ


def test_proxy_forwards_queries(proxy: TcpProxy, postgres_url: str) -> None:
    proxied = proxy.url_for(postgres_url)
    assert make_url(proxied).port == proxy.port
    assert select_one(proxied) == 1


def test_proxy_forwards_many_concurrent_connections(proxy: TcpProxy, postgres_url: str) -> None:
    connections = [psycopg.connect(proxy.url_for(postgres_url)) for _ in range(20)]
    try:
        results: list[int] = []

        def query(conn: psycopg.Connection) -> None:
            results.append(conn.execute("SELECT pg_sleep(0.1), 7").fetchone()[1])

        threads = [threading.Thread(target=query, args=(c,)) for c in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [7] * len(connections)
    finally:
        for conn in connections:
            conn.close()


def test_cut_breaks_connections_and_restore_reopens_the_same_port(
    proxy: TcpProxy, postgres_url: str
) -> None:
    proxied = proxy.url_for(postgres_url)
    port = proxy.port
    with psycopg.connect(proxied, connect_timeout=CONNECT_TIMEOUT_S) as existing:
        assert existing.execute("SELECT 1").fetchone() == (1,)
        proxy.cut()
        with pytest.raises(psycopg.OperationalError):
            existing.execute("SELECT 1")

    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        select_one(proxied)
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 0.5

    proxy.restore()
    assert proxy.port == port
    assert select_one(proxied) == 1


def test_sqlalchemy_pool_recovers_after_cut_and_restore(proxy: TcpProxy, postgres_url: str) -> None:
    engine = create_database_engine(proxy.url_for(postgres_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        proxy.cut()
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        proxy.restore()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_stop_leaves_no_thread_running(postgres_server: str) -> None:
    url = make_url(postgres_server)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    open_conn = psycopg.connect(proxy.url_for(postgres_server))
    assert proxy_threads()
    proxy.stop()
    assert proxy_threads() == []
    with pytest.raises(psycopg.OperationalError):
        open_conn.execute("SELECT 1")
    open_conn.close()
