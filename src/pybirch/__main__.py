"""``python -m pybirch``: the same as the ``pybirch`` command."""

from pybirch.cli.main import cli

cli()
