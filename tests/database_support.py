"""Test support for the database layer: PostgreSQL discovery, throwaway databases, a TCP proxy.

PostgreSQL tests run whenever the server is reachable and are required when ``CI`` is set;
:func:`require_postgres` applies that rule. ``PYBIRCH_TEST_POSTGRES_URL`` overrides the server.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import selectors
import socket
import threading
from types import TracebackType
from typing import Self

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT_S = 2
#: Seconds to wait for a proxy thread to finish before reporting it as stuck.
JOIN_TIMEOUT_S = 5.0
_connection_ids = itertools.count(1)


def postgres_server_url() -> str:
    """URL of the PostgreSQL maintenance database the tests create their databases from."""
    return os.environ.get("PYBIRCH_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def libpq_url(url: str) -> str:
    """``url`` as psycopg accepts it (a SQLAlchemy ``postgresql+driver://`` prefix removed)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_available() -> bool:
    """True if the PostgreSQL server answers within two seconds."""
    try:
        with psycopg.connect(libpq_url(postgres_server_url()), connect_timeout=CONNECT_TIMEOUT_S):
            return True
    except psycopg.Error as exc:
        logger.info("PostgreSQL at %s is unavailable: %s", postgres_server_url(), exc)
        return False


def require_postgres() -> str:
    """The server URL; otherwise fail the test when ``CI`` is set, else skip it."""
    if postgres_available():
        return postgres_server_url()
    reason = (
        f"PostgreSQL is not reachable at {postgres_server_url()} "
        "(set PYBIRCH_TEST_POSTGRES_URL to point the tests at a server)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; PostgreSQL tests are required because CI is set")
    pytest.skip(reason)


class TemporaryPostgresDatabase:
    """A uniquely named PostgreSQL database, created on enter and dropped on exit."""

    def __init__(self, server_url: str | None = None) -> None:
        self.server_url = server_url or postgres_server_url()
        self.name = f"pybirch_test_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = (
            make_url(libpq_url(self.server_url))
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def _execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(
            libpq_url(self.server_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            conn.execute(statement)

    def __enter__(self) -> Self:
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
        )


def _join(thread: threading.Thread | None) -> None:
    if thread is None:
        return
    thread.join(JOIN_TIMEOUT_S)
    if thread.is_alive():
        raise RuntimeError(f"proxy thread {thread.name} did not stop")


class _ForwardedConnection:
    """One client socket and its upstream socket, pumped in both directions by two threads."""

    def __init__(self, client: socket.socket, target: tuple[str, int]) -> None:
        self._client = client
        self._target = target
        self._upstream: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._reverse: threading.Thread | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"TcpProxy-forward-{next(_connection_ids)}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Close both sockets; blocked ``recv``/``send`` calls in the pump threads return."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sockets = [s for s in (self._client, self._upstream) if s is not None]
        for sock in sockets:
            with contextlib.suppress(OSError):  # the peer may have disconnected already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def join(self) -> None:
        _join(self._thread)
        _join(self._reverse)

    def _run(self) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            logger.warning("TcpProxy cannot reach %s:%s: %s", *self._target, exc)
            self.close()
            return
        upstream.settimeout(None)
        with self._lock:
            if self._closed:
                upstream.close()
                return
            self._upstream = upstream
            self._reverse = threading.Thread(
                target=self._pump,
                args=(upstream, self._client),
                name=f"{self._thread.name}-back",
                daemon=True,
            )
            self._reverse.start()
        self._pump(self._client, upstream)
        _join(self._reverse)

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError as exc:
            with self._lock:
                expected = self._closed
            log = logger.debug if expected else logger.warning
            log("TcpProxy connection error (closed by proxy: %s): %r", expected, exc)
        finally:
            self.close()


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that can cut all traffic to its target and restore it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._lock = threading.Lock()
        self._connections: list[_ForwardedConnection] = []
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._acceptor: threading.Thread | None = None

    def start(self) -> Self:
        """Listen on an ephemeral port (kept by :meth:`restore`) and forward to the target."""
        if self._acceptor is not None:
            raise RuntimeError("TcpProxy is already listening")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._wake = socket.socketpair()
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"TcpProxy-accept-{self.port}", daemon=True
        )
        self._acceptor.start()
        return self

    def url_for(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by the proxy's."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def cut(self) -> None:
        """Drop every forwarded connection and refuse new ones, as if the server vanished."""
        self._stop_listening()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        for connection in connections:
            connection.join()

    def restore(self) -> None:
        """Accept and forward connections again, on the same port."""
        self.start()

    def stop(self) -> None:
        """Close everything and wait for every proxy thread to finish."""
        self.cut()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _stop_listening(self) -> None:
        if self._acceptor is None or self._wake is None or self._listener is None:
            return
        self._wake[1].send(b"x")
        _join(self._acceptor)
        for sock in (self._listener, *self._wake):
            sock.close()
        self._acceptor = self._listener = self._wake = None

    def _accept_loop(self) -> None:
        listener, wake = self._listener, self._wake
        if listener is None or wake is None:
            raise RuntimeError("TcpProxy accept loop started without a listener")
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake[0], selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if wake[0] in ready:
                    return
                try:
                    client, _ = listener.accept()
                except OSError:
                    logger.exception("TcpProxy failed to accept a connection")
                    continue
                connection = _ForwardedConnection(client, self.target)
                with self._lock:
                    self._connections = [c for c in self._connections if c.alive()]
                    self._connections.append(connection)
                connection.start()
