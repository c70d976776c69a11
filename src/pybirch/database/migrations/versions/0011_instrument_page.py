"""what members did to instruments by hand

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-23 00:00:00.000000

An instrument's page lets a lab member move a stage, read a measurement once and apply
settings. Each such action becomes a row of ``instrument_actions``: who, when, on which
computer, what was asked, how it ended and what came back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pybirch.database.models.base

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "instrument_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("computer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("result", _JSON, nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["computer_id"],
            ["computers.id"],
            name=op.f("fk_instrument_actions_computer_id_computers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_instrument_actions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_instrument_actions_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_actions")),
    )
    with op.batch_alter_table("instrument_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_actions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_actions_instrument_id"), ["instrument_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("instrument_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_actions_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_actions_created_at"))
    op.drop_table("instrument_actions")
