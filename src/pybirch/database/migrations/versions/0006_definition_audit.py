"""audit trail of instrument definitions, the approved code's hash on the definition

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20 00:00:00.000000

Every create, edit, approval, rejection and rollback of a stored driver becomes a row of
``instrument_definition_audit`` (who, when, what, which version, the comment). A definition
keeps the sha256 of the code it approved (``approved_code_hash``), the pin a lab computer
checks before it runs that code. The column is added in place (``recreate="never"``): no
table is rebuilt, so no referencing row is touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pybirch.database.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "instrument_definition_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_instrument_definition_audit_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["instrument_definitions.id"],
            name=op.f("fk_instrument_definition_audit_definition_id_instrument_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_definition_audit")),
    )
    with op.batch_alter_table("instrument_definition_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_definition_audit_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_definition_audit_definition_id"),
            ["definition_id"],
            unique=False,
        )
    with op.batch_alter_table("instrument_definitions", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("approved_code_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instrument_definitions", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("approved_code_hash")
    with op.batch_alter_table("instrument_definition_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_definition_audit_definition_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_definition_audit_created_at"))
    op.drop_table("instrument_definition_audit")
