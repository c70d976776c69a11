"""``pybirch agent``: run this lab computer's queues for a PyBirch server."""

from __future__ import annotations

import signal
import threading

import click

from pybirch.agent import Agent
from pybirch.cli.db import database_option, reported_errors
from pybirch.configuration import current_config
from pybirch.database import DatabaseService
from pybirch.demo.web_lab import bind_demo_instruments
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
    help="Bind the demo's simulated instruments (stages, lock-in, source, multimeter) "
    "to this computer, besides the instruments bound to it already.",
)
@database_option
def agent(server_url: str, token: str, simulated: bool, database_url: str | None) -> None:
    """Connect to a server and run the queues its users send to this computer.

    Points go to the lab's database (DATABASE_URL) and, while it is away, to the local
    spool. Stop with Ctrl-C: running scans are aborted and every point is stored.
    """
    with reported_errors():
        db = DatabaseService(database_url)
        prepare = _bind_simulated if simulated else None
        runner = Agent(server_url, token, db, prepare=prepare)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"PyBirch agent for {server_url} (database {db.url}); Ctrl-C stops it.")
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


def _bind_simulated(station: Station) -> None:
    """Bind the demo's simulated instruments to this computer (once; later starts find them)."""
    identity = station.identity
    if identity is None or identity.lab_id is None:
        raise click.ClickException("the server did not say which lab this computer is in")
    bind_demo_instruments(station.db, identity.lab_id, identity.computer_id)
