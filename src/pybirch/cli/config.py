"""``pybirch config``: the configuration in force, where each value came from, secrets masked."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pybirch.configuration import (
    DEFAULT,
    ENV_FILE_VARIABLE,
    ENVIRONMENT,
    ConfigError,
    IntegrationConfig,
    current_config,
    env_file_warnings,
)

#: How a value that is not set at all is shown in the table.
UNSET = "(unset)"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
def config(as_json: bool) -> None:
    """Print every setting's value and source (environment, .env file, default).

    Values come from the environment, else the .env file (PYBIRCH_ENV_FILE, else .env in
    the current directory), else the default. Passwords and keys are shown as ***.
    """
    try:
        effective = current_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(configuration_document(effective), indent=2))
    else:
        Console().print(configuration_table(effective))
    for warning in env_file_warnings(effective):
        click.echo(f"Warning: {warning}", err=True)


def configuration_document(effective: IntegrationConfig) -> dict[str, Any]:
    """The configuration as JSON: the .env file read, then each variable (secrets masked)."""
    variables = []
    for field_name, variable in IntegrationConfig.variables():
        source = effective.source_of(variable.name)
        variables.append(
            {
                "variable": variable.name,
                "value": variable.shown(getattr(effective, field_name)),
                "source": source if source in (ENVIRONMENT, DEFAULT) else "env_file",
                "secret": variable.secret,
                "description": variable.description,
                "expected": variable.value_type.expected,
            }
        )
    env_file = effective.env_file
    return {
        "env_file": None if env_file is None else str(env_file),
        "variables": variables,
        "warnings": env_file_warnings(effective),
    }


def configuration_table(effective: IntegrationConfig) -> Table:
    """The configuration as a table: variable, value (secrets masked), source."""
    env_file = effective.env_file
    title = (
        f"PyBirch configuration (.env file: {env_file})"
        if env_file is not None
        else f"PyBirch configuration (no .env file: set {ENV_FILE_VARIABLE} or add ./.env)"
    )
    table = Table(title=Text(title))
    table.add_column("Variable", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_column("Source", overflow="fold")
    for field_name, variable in IntegrationConfig.variables():
        shown = variable.shown(getattr(effective, field_name))
        source = effective.source_of(variable.name)
        table.add_row(
            variable.name,
            Text(UNSET, style="dim") if shown in (None, "") else Text(str(shown)),
            Text(source, style="dim" if source == DEFAULT else ""),
        )
    return table
