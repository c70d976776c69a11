"""queue names per lab, session versions, database identity

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:30:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pybirch.database.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_queues_queue_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_queues_lab_id_queue_id"), ["lab_id", "queue_id"]
        )
        batch_op.create_index(batch_op.f("ix_queues_queue_id"), ["queue_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )

    identity = op.create_table(
        "database_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_database_identity")),
        sa.UniqueConstraint("identity", name=op.f("uq_database_identity_identity")),
    )
    op.bulk_insert(
        identity,
        [
            {
                "id": 1,
                "identity": str(uuid.uuid4()),
                "created_at": pybirch.database.models.base.utcnow(),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("database_identity")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")

    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queues_queue_id"))
        batch_op.drop_constraint(batch_op.f("uq_queues_lab_id_queue_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_queues_queue_id"), ["queue_id"])
