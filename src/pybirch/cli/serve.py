"""``pybirch serve``: the web server, production-ready (gunicorn, threads for WebSockets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from pybirch.cli.db import database_option, reported_errors
from pybirch.cli.port_check import PortTaken, advice, check_port
from pybirch.configuration import current_config, env_file_warnings
from pybirch.database import DatabaseService
from pybirch.definitions.builtin import sync_builtin_definitions
from pybirch.demo.web_lab import (
    LIVE_QUEUE,
    bind_demo_instruments,
    open_live_demo,
    seed_demo_lab,
)
from pybirch.station import Station
from pybirch.web import create_app
from pybirch.web.first_run import FirstAdmin, default_lab_name, ensure_first_admin
from pybirch.web.stations import STATION_KEY


class _Server(BaseApplication):  # type: ignore[misc]
    """gunicorn with one threaded worker; the app is made in the worker, after the fork."""

    def __init__(self, make_app: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.make_app = make_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.make_app()


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
@click.option(
    "--demo",
    is_flag=True,
    help="Open a demo lab: finished scans on simulated instruments and a queue to start.",
)
@database_option
def serve(
    host: str,
    port: int,
    threads: int,
    admin_password: str | None,
    demo: bool,
    database_url: str | None,
) -> None:
    """Serve the web UI and API (stop it with Ctrl-C)."""
    try:
        check_port(host, port)  # before anything is printed or made
    except PortTaken as taken:
        raise click.ClickException(advice(taken)) from taken
    with reported_errors():
        for warning in env_file_warnings(current_config()):  # a bad value stops here
            click.echo(f"Warning: {warning}", err=True)
        db = DatabaseService(database_url)
        first = ensure_first_admin(db, admin_password)
        if first is not None:
            click.echo(f"Created lab {first.lab_name!r} and its admin.")
            click.echo(f"  user name: {first.username}")
            if admin_password is None:
                click.echo(f"  password:  {first.password}   (shown once: note it now)")
        _sync_builtin(db)
        click.echo(f"PyBirch on http://{host}:{port}/  (database {db.url}; Ctrl-C stops it)")
        options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "control_socket_disable": True,
            # Open WebSockets never finish by themselves: on stop, close them after this
            # long, so agents and browsers notice at once and reconnect to the next server.
            "graceful_timeout": 5,
            "accesslog": "-",
        }
        demo_lab_id = _prepare_demo(db, first) if demo else None
        db.close()  # the worker is forked: it opens its own connections

        def make_app() -> Flask:
            app = create_app(DatabaseService(database_url))
            _open_station(app.extensions[STATION_KEY], demo_lab_id)
            return app

        _Server(make_app, options).run()


def _sync_builtin(db: DatabaseService) -> None:
    """Store PyBirch's builtin drivers (a new release's changes as new versions)."""
    summary = sync_builtin_definitions(db)
    if summary.changed:
        click.echo(
            f"Builtin instrument definitions: {len(summary.created)} added, "
            f"{len(summary.updated)} updated."
        )


def _open_station(station: Station, demo_lab_id: int | None) -> None:
    """Make the server's station this computer's: its bound instruments, its queues."""
    identity = station.register_as_this_computer()
    if demo_lab_id is not None:
        bind_demo_instruments(station.db, demo_lab_id, identity.computer_id)
    loaded = station.discover()
    click.echo(
        f"Computer {identity.name!r}: {len(loaded.instruments)} bound instrument(s) connected"
        + (f", {len(loaded.failures)} not" if loaded.failures else "")
    )
    for binding, why in loaded.failures:
        click.echo(f"  {binding['instrument']['name']}: {why}", err=True)
    taken = station.adopt()
    if taken:
        click.echo(f"Took back {taken} queue(s) this computer had open when it stopped.")
    if demo_lab_id is not None:
        open_live_demo(station, demo_lab_id)


def _prepare_demo(db: DatabaseService, first: FirstAdmin | None) -> int | None:
    """The demo lab's id, after filling it with finished scans if it has none yet."""
    name = first.lab_name if first else default_lab_name()
    lab = db.get_lab_by_name(name)
    if lab is None:
        click.echo(
            f"No lab called {name!r}: the demo runs in the lab made on first start.", err=True
        )
        return None
    if db.search_scans(lab_id=lab.id, per_page=1).total == 0:
        click.echo("Preparing the demo lab (two finished scans on simulated instruments)...")
        seed_demo_lab(db, lab.id)
    click.echo(f"Demo: queue {LIVE_QUEUE!r} in {lab.name!r} waits for you to start it.")
    return lab.id
