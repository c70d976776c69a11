"""``pybirch agent``: run this lab computer's queues for a PyBirch server."""

from __future__ import annotations

import signal
import threading

import click

from pybirch.agent import Agent
from pybirch.agent.server_database import ServerDatabase
from pybirch.cli.db import reported_errors
from pybirch.configuration import DEFAULT, current_config
from pybirch.database import DatabaseService
from pybirch.demo.web_lab import bind_demo_instruments, demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.station import Station


@click.command()
@click.option("--server", "server_url", required=True, metavar="URL", help="The PyBirch server.")
@click.option(
    "--token",
    default=lambda: current_config().computer_token,
    required=True,
    help="This computer's token (Computers page of the server) "
    "[env or .env: PYBIRCH_COMPUTER_TOKEN].",
)
@click.option(
    "--simulated",
    is_flag=True,
    help="Give this computer the demo's simulated instruments (stages, lock-in, source, "
    "multimeter), besides the instruments bound to it already.",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    default=None,
    help="Write to the lab's database directly [default: DATABASE_URL; without either, the "
    "computer holds only its token and stores through the server].",
)
def agent(server_url: str, token: str, simulated: bool, database_url: str | None) -> None:
    """Connect to a server and run the queues its users send to this computer.

    With only its token (no --database, no DATABASE_URL) the computer stores everything
    through the server: each chunk of points is kept in the local spool until the server
    has committed it. With the lab's database (--database or DATABASE_URL) it writes there
    directly, spooling while it is away. Stop with Ctrl-C: running scans are aborted and
    every point is stored.
    """
    with reported_errors():
        database_url = database_url or _configured_database_url()
        db: DatabaseService | ServerDatabase
        instruments = None
        prepare = None
        if database_url is None:
            db = ServerDatabase(server_url, token)
            if simulated:  # offered in Python: a computer token binds nothing by itself
                instruments = InstrumentSet(*demo_instruments())
            where = "through the server, this computer's token only"
        else:
            db = DatabaseService(database_url)
            prepare = _bind_simulated if simulated else None
            where = f"database {db.url}"
        runner = Agent(server_url, token, db, instruments, prepare=prepare)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"PyBirch agent for {server_url} ({where}); Ctrl-C stops it.")
        runner.start()
        while not stop.wait(0.5):
            if runner.uplink.refused.is_set():
                runner.close()
                raise click.ClickException(
                    f"{server_url} does not know this token: a lab admin makes a new one "
                    f"on the server's Computers page"
                )
        click.echo("Stopping: aborting running scans and storing their points...")
        runner.close()
        db.close()


def _configured_database_url() -> str | None:
    """``DATABASE_URL`` from the environment or ``.env``; None if neither sets it."""
    config = current_config()
    return None if config.source_of("DATABASE_URL") == DEFAULT else config.database_url


def _bind_simulated(station: Station) -> None:
    """Bind the demo's simulated instruments to this computer (once; later starts find them)."""
    identity = station.identity
    if identity is None or identity.lab_id is None:
        raise click.ClickException("the server did not say which lab this computer is in")
    bind_demo_instruments(station.db, identity.lab_id, identity.computer_id)
