"""Entry point of the ``pybirch`` command; each subcommand lives in its own module."""

from __future__ import annotations

import logging

import click

from pybirch import __version__
from pybirch.cli.agent import agent
from pybirch.cli.db import db
from pybirch.cli.demo import demo
from pybirch.cli.export import export
from pybirch.cli.serve import serve


@click.group()
@click.version_option(__version__, prog_name="pybirch")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """PyBirch: run measurements, keep every point."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


cli.add_command(agent)
cli.add_command(demo)
cli.add_command(db)
cli.add_command(export)
cli.add_command(serve)
