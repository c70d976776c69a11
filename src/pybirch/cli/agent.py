"""``pybirch agent``: run this lab computer's queues for a PyBirch server."""

from __future__ import annotations

import signal
import threading

import click

from pybirch.agent import Agent
from pybirch.cli.db import database_option, reported_errors
from pybirch.database import DatabaseService
from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentSet


@click.command()
@click.option("--server", "server_url", required=True, metavar="URL", help="The PyBirch server.")
@click.option(
    "--token",
    envvar="PYBIRCH_COMPUTER_TOKEN",
    required=True,
    help="This computer's token (Computers page of the server) [env: PYBIRCH_COMPUTER_TOKEN].",
)
@click.option(
    "--simulated",
    is_flag=True,
    help="Offer the demo's simulated instruments (stages, lock-in, source, multimeter).",
)
@database_option
def agent(server_url: str, token: str, simulated: bool, database_url: str | None) -> None:
    """Connect to a server and run the queues its users send to this computer.

    Points go to the lab's database (DATABASE_URL) and, while it is away, to the local
    spool. Stop with Ctrl-C: running scans are aborted and every point is stored.
    """
    with reported_errors():
        db = DatabaseService(database_url)
        instruments = InstrumentSet(*(demo_instruments() if simulated else []))
        if not instruments.all():
            click.echo("No instruments to offer: pass --simulated to offer the demo's.", err=True)
        runner = Agent(server_url, token, db, instruments)
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
