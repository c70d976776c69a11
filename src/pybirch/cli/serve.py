"""``pybirch serve``: the web server, production-ready (gunicorn, threads for WebSockets)."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from pybirch.cli.db import database_option, reported_errors
from pybirch.database import DatabaseService
from pybirch.web import create_app
from pybirch.web.first_run import ensure_first_admin


class _Server(BaseApplication):  # type: ignore[misc]
    """gunicorn running one app object with one threaded worker."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.option(
    "--threads",
    default=100,
    show_default=True,
    help="Worker threads: open browser tabs (one WebSocket each) plus requests in flight.",
)
@click.option(
    "--admin-password",
    default=None,
    help="Password of the first admin on an empty database (default: generated, shown once).",
)
@database_option
def serve(
    host: str, port: int, threads: int, admin_password: str | None, database_url: str | None
) -> None:
    """Serve the web UI and API."""
    with reported_errors():
        db = DatabaseService(database_url)
        first = ensure_first_admin(db, admin_password)
        if first is not None:
            click.echo(f"Created lab {first.lab_name!r} and its admin.")
            click.echo(f"  user name: {first.username}")
            if admin_password is None:
                click.echo(f"  password:  {first.password}   (shown once: note it now)")
        click.echo(f"PyBirch on http://{host}:{port}/  (database {db.url})")
        options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "control_socket_disable": True,
            "accesslog": "-",
        }
        app = create_app(db)
        db.engine.dispose()  # the worker is forked: it must open its own connections
        _Server(app, options).run()
