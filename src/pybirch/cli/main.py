"""Entry point of the ``pybirch`` command; each subcommand lives in its own module."""

from __future__ import annotations

import importlib
import logging

import click

from pybirch import __version__
from pybirch.configuration import ConfigError

#: Each subcommand by name, as ``module:attribute``: imported only when it runs, so that
#: ``pybirch agent`` on a lab computer starts without loading the web server.
SUBCOMMANDS = {
    "admin": "pybirch.cli.admin:admin",
    "agent": "pybirch.cli.agent:agent",
    "config": "pybirch.cli.config:config",
    "db": "pybirch.cli.db:db",
    "definitions": "pybirch.cli.definitions:definitions",
    "demo": "pybirch.cli.demo:demo",
    "export": "pybirch.cli.export:export",
    "serve": "pybirch.cli.serve:serve",
}


class LazyGroup(click.Group):
    """A command group whose subcommands are imported when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand's name."""
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand called ``cmd_name``, imported now (None if there is none)."""
        if cmd_name not in SUBCOMMANDS:
            return None
        module, _, attribute = SUBCOMMANDS[cmd_name].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; a bad configuration value ends it with a one-line error."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="pybirch")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """PyBirch: run measurements, keep every point."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
