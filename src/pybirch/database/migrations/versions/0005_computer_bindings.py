"""computers known by their machine id per lab, instruments per computer, binding options

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15 00:30:00.000000

A computer's ``computer_id`` becomes the id it reports of itself (a keyed hash of its
machine id), unique within its lab, and among the lab-less server computers through a
partial index (a unique constraint treats every NULL lab as distinct). It is NULL until
the computer first reports: the random ids computers were given until now name no
machine, so they are cleared. Computers get a host name, a nickname, a location and an
OS. Instrument names are no longer unique in a lab, since two computers may each have a
"Lock-in"; they stay indexed. A binding gets the options its driver is built with.

On SQLite the altered tables are rebuilt; :func:`pybirch.database.migrate.upgrade` runs
migrations with foreign keys off, since dropping the old ``instruments`` table with them
on would delete the status history and bindings that reference it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pybirch.database.errors import SchemaError

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SERVER_COMPUTERS = sa.text("lab_id IS NULL")
#: Rows referencing the rebuilt tables (computers, instruments): (table, column).
_REFERENCES = (
    ("computer_bindings", "computer_id"),
    ("instrument_status", "instrument_id"),
    ("measurement_objects", "instrument_id"),
)

_computers = sa.table("computers", sa.column("id", sa.Integer()), sa.column("computer_id"))
_instruments = sa.table(
    "instruments",
    sa.column("id", sa.Integer()),
    sa.column("lab_id", sa.Integer()),
    sa.column("name", sa.String()),
)


def upgrade() -> None:
    _refuse_cascading_rebuild()
    with op.batch_alter_table("computers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hostname", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("nickname", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("os", sa.String(length=50), nullable=True))
        batch_op.alter_column("computer_id", existing_type=sa.String(length=255), nullable=True)
        batch_op.drop_constraint(batch_op.f("uq_computers_computer_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_computers_lab_id_computer_id"), ["lab_id", "computer_id"]
        )
        batch_op.create_index(
            "uq_computers_server_computer_id",
            ["computer_id"],
            unique=True,
            sqlite_where=_SERVER_COMPUTERS,
            postgresql_where=_SERVER_COMPUTERS,
        )
    op.execute(_computers.update().values(computer_id=None))

    with op.batch_alter_table("instruments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_instruments_lab_id_name"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_instruments_lab_id"))
        batch_op.create_index("ix_instruments_lab_id_name", ["lab_id", "name"], unique=False)

    with op.batch_alter_table("computer_bindings", schema=None) as batch_op:
        # The server default fills the rows there are; the model gives new rows {}.
        batch_op.add_column(
            sa.Column("options", _JSON, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    _refuse_cascading_rebuild()
    connection = op.get_bind()
    with op.batch_alter_table("computer_bindings", schema=None) as batch_op:
        batch_op.drop_column("options")

    # Names unique per lab again: a second "Lock-in" of a lab becomes "Lock-in (id)".
    seen: set[tuple[int | None, str]] = set()
    rows = connection.execute(
        sa.select(_instruments.c.id, _instruments.c.lab_id, _instruments.c.name).order_by(
            _instruments.c.id
        )
    )
    for key, lab_id, name in list(rows):
        if (lab_id, name) in seen:
            name = f"{name} ({key})"
            connection.execute(
                _instruments.update().where(_instruments.c.id == key).values(name=name)
            )
        seen.add((lab_id, name))
    with op.batch_alter_table("instruments", schema=None) as batch_op:
        batch_op.drop_index("ix_instruments_lab_id_name")
        batch_op.create_index(batch_op.f("ix_instruments_lab_id"), ["lab_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_instruments_lab_id_name"), ["lab_id", "name"]
        )

    # One machine known to two labs had one id per lab; the old schema wants one each.
    for (key,) in list(connection.execute(sa.select(_computers.c.id))):
        connection.execute(
            _computers.update().where(_computers.c.id == key).values(computer_id=uuid.uuid4().hex)
        )
    with op.batch_alter_table("computers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_computers_server_computer_id",
            sqlite_where=_SERVER_COMPUTERS,
            postgresql_where=_SERVER_COMPUTERS,
        )
        batch_op.drop_constraint(batch_op.f("uq_computers_lab_id_computer_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_computers_computer_id"), ["computer_id"])
        batch_op.alter_column("computer_id", existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column("os")
        batch_op.drop_column("location")
        batch_op.drop_column("nickname")
        batch_op.drop_column("hostname")


def _refuse_cascading_rebuild() -> None:
    """Stop before SQLite rebuilds a table whose referencing rows would go with it."""
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL alters the tables in place
    if not connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        return
    for child, column in _REFERENCES:
        found = connection.execute(
            sa.text(f"SELECT 1 FROM {child} WHERE {column} IS NOT NULL LIMIT 1")
        ).first()
        if found is not None:
            raise SchemaError(
                f"rebuilding tables with foreign keys on would delete or cut the rows of "
                f"{child}; migrate with `pybirch db upgrade`, which turns them off meanwhile"
            )
