"""``pybirch admin``: account rescue from the server's own computer (no web login needed)."""

from __future__ import annotations

import click

from pybirch.cli.db import database_option, reported_errors
from pybirch.database import DatabaseService
from pybirch.web.auth.passwords import generate_password, hash_password


@click.group()
def admin() -> None:
    """Manage accounts directly in the database (for a forgotten password)."""


@admin.command("reset-password")
@click.argument("username")
@database_option
def reset_password(username: str, database_url: str | None) -> None:
    """Give USERNAME a new one-time password and end every session of theirs.

    The password is printed once; its owner must choose a new one at the next login.
    API tokens keep working (revoke them on the account page if they may be known).
    """
    with reported_errors(), DatabaseService(database_url) as db:
        user = db.get_user_by_username(username)
        if user is None:
            raise click.ClickException(f"no user called {username!r} in {db.url}")
        password = generate_password()
        db.set_password(user.id, hash_password(password), one_time=True)
    click.echo(f"New one-time password of {username}: {password}")
    click.echo(f"{username}'s sessions have ended; a new password is asked for at the next login.")
