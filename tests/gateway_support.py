"""A lab for the agent gateway tests: a server app on a real HTTP port, a computer and its token.

The server runs in this process (werkzeug's threaded server, so the agent side talks real
HTTP with keep-alive) and can be stopped and started again on the same port, as a server
restart looks to an agent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, make_server

from browser_support import free_port
from pybirch.agent.server_database import ServerDatabase
from pybirch.database import DatabaseService
from pybirch.web import create_app
from pybirch.web.config import WebConfig


@dataclass
class GatewayLab:
    """The lab's database, its server on ``port``, and one computer with its token."""

    db: DatabaseService
    port: int
    lab_id: int
    computer_id: int
    token: str
    computer_name: str = "Raman PC"
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    _apps: list = field(default_factory=list)

    @property
    def url(self) -> str:
        """The server's address."""
        return f"http://127.0.0.1:{self.port}"

    def agent_database(self, token: str | None = None) -> ServerDatabase:
        """What an agent with only this computer's token (or ``token``) uses as its database."""
        return ServerDatabase(self.url, token or self.token, timeout=(2.0, 60.0))

    def start(self) -> None:
        """Serve the app (a new one, as a restarted server process makes)."""
        app = create_app(self.db, WebConfig(secret_key="gateway tests"))
        self._apps.append(app)
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=30)
            self._server = None

    def close(self) -> None:
        """Stop the server and its apps' stations."""
        self.stop()
        for app in self._apps:
            app.extensions["pybirch.station"].close()


@contextmanager
def gateway_lab(database_url: str) -> Iterator[GatewayLab]:
    """A lab with a computer ("Raman PC") and another lab, served on a free port."""
    db = DatabaseService(database_url, auto_upgrade=True)
    lab = db.create_lab("Gateway lab")
    computer, token = db.create_computer(lab.id, "Raman PC")
    served = GatewayLab(db, free_port(), lab.id, computer.id, token)
    served.start()
    try:
        yield served
    finally:
        served.close()
        db.close()
