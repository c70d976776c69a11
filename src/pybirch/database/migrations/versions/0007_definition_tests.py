"""a definition version's own test and result; the driver a binding's computer loaded

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-21 00:00:00.000000

A stored driver may carry a pyvisa-sim device description and a short test of its own;
both are part of a version (a change makes a new version, reviewed like the code), and the
last run's result is kept with the version for its approver to see. A binding records the
driver its computer last loaded for it (a stored definition's version and hash, a driver
file, or an installed class), for the instrument pages. Columns are added in place
(``recreate="never"``): no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pybirch.database.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table(
        "instrument_definition_versions", schema=None, recreate="never"
    ) as batch_op:
        batch_op.add_column(sa.Column("sim_device", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("test_code", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("test_result", _JSON, nullable=True))
        batch_op.add_column(
            sa.Column(
                "tested_at",
                pybirch.database.models.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )

    with op.batch_alter_table("computer_bindings", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("loaded_driver", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("computer_bindings", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("loaded_driver")
    with op.batch_alter_table(
        "instrument_definition_versions", schema=None, recreate="never"
    ) as batch_op:
        for column in ("tested_at", "test_result", "test_code", "sim_device"):
            batch_op.drop_column(column)
