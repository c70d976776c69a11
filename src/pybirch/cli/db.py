"""``pybirch db``: see and upgrade the database schema (Alembic revisions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from pybirch.database import migrate
from pybirch.database.engine import create_database_engine
from pybirch.database.errors import SchemaError
from pybirch.errors import PyBirchError

#: The ``--database URL`` option every database command takes.
database_option = click.option(
    "--database",
    "database_url",
    metavar="URL",
    default=None,
    help="Database URL or SQLite file [default: DATABASE_URL, else the local SQLite file].",
)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn PyBirch and connection errors into a one-line message and exit code 1."""
    try:
        yield
    except PyBirchError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(f"cannot use the database: {exc.orig}") from exc
    except CommandError as exc:
        raise click.ClickException(f"cannot migrate the database: {exc}") from exc


@click.group()
def db() -> None:
    """See and upgrade the database schema."""


@db.command()
@database_option
def upgrade(database_url: str | None) -> None:
    """Migrate the database to the schema this PyBirch needs."""
    with reported_errors(), _engine(database_url) as engine:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
        url = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{url}: already at revision {after} (head)")
    else:
        click.echo(f"{url}: upgraded from {before or 'an empty database'} to {after} (head)")


@db.command()
@database_option
def current(database_url: str | None) -> None:
    """Print the database's schema revision and whether it is the newest."""
    with reported_errors(), _engine(database_url) as engine:
        revision = migrate.current_revision(engine)
        try:
            migrate.check_schema(engine)
        except SchemaError as exc:
            click.echo(f"{revision or 'none'}: {exc}")
        else:
            click.echo(f"{revision} (head)")


@contextmanager
def _engine(database_url: str | None) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()
