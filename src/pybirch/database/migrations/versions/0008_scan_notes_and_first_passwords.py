"""notes and tags on scans; a one-time password that must be changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-22 00:00:00.000000

A scan carries the scientist's notes and tags (editable on its page, searched in the scans
list). A user given a one-time password (a new account, a reset by an admin) changes it at
the next login (``must_change_password``). Columns are added in place (``recreate="never"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tags", _JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("scans", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("tags")
        batch_op.drop_column("notes")
