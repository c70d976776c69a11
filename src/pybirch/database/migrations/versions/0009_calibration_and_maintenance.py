"""calibrations with certificates, a maintenance log, and a lab's rule for overdue instruments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:00:00.000000

Each calibration of an instrument is a row of ``calibrations`` (its dates, who did it, and
the certificate file's name, type, size, SHA-256 and bytes); each maintenance done is a row
of ``maintenance_log``. The instrument's own columns (``calibration_date``,
``calibration_due``, ``maintenance_interval_days``, ``next_maintenance``) keep the current
state. ``labs.block_overdue_scans`` says whether a scan on an overdue instrument is refused
(true) or runs with a warning on its record (false, the default). Columns are added in
place (``recreate="never"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pybirch.database.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned_columns(table: str) -> list[sa.SchemaItem]:
    """The columns and keys both tables share: id, lab, instrument, creation."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f(f"fk_{table}_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f(f"fk_{table}_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f(f"fk_{table}_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _index(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in ("created_at", "instrument_id", "lab_id"):
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "calibrations",
        *_owned_columns("calibrations"),
        sa.Column("calibrated_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("performed_by", sa.String(length=255), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("certificate_name", sa.String(length=255), nullable=True),
        sa.Column("certificate_type", sa.String(length=100), nullable=True),
        sa.Column("certificate_size", sa.Integer(), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate", sa.LargeBinary(), nullable=True),
    )
    _index("calibrations")
    op.create_table(
        "maintenance_log",
        *_owned_columns("maintenance_log"),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("performed_by", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
    )
    _index("maintenance_log")
    with op.batch_alter_table("labs", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "block_overdue_scans", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("labs", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("block_overdue_scans")
    for table in ("maintenance_log", "calibrations"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ("lab_id", "instrument_id", "created_at"):
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
