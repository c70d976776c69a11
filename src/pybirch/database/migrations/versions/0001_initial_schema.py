"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:24:01.713456
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pybirch.database.models.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "last_login_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_users_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_created_at"), ["created_at"], unique=False)

    op.create_table(
        "labs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_labs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
        sa.UniqueConstraint("code", name=op.f("uq_labs_code")),
        sa.UniqueConstraint("name", name=op.f("uq_labs_name")),
    )
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labs_created_at"), ["created_at"], unique=False)

    op.create_table(
        "computers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("computer_name", sa.String(length=255), nullable=False),
        sa.Column("computer_id", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("platform", sa.String(length=255), nullable=True),
        sa.Column("token_hash", sa.String(length=255), nullable=True),
        sa.Column(
            "last_seen", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_computers_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_computers_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_computers")),
        sa.UniqueConstraint("computer_id", name=op.f("uq_computers_computer_id")),
    )
    with op.batch_alter_table("computers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_computers_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_computers_lab_id"), ["lab_id"], unique=False)

    op.create_table(
        "instrument_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("instrument_type", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("manufacturer", sa.String(length=255), nullable=True),
        sa.Column("base_class", sa.String(length=100), nullable=False),
        sa.Column(
            "dependencies",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "default_settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "data_columns",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "data_units",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("position_column", sa.String(length=100), nullable=True),
        sa.Column("position_units", sa.String(length=50), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approved_version", sa.Integer(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("is_builtin", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_instrument_definitions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"],
            ["labs.id"],
            name=op.f("fk_instrument_definitions_lab_id_labs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_definitions")),
        sa.UniqueConstraint("lab_id", "name", name=op.f("uq_instrument_definitions_lab_id_name")),
    )
    with op.batch_alter_table("instrument_definitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_definitions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_definitions_lab_id"), ["lab_id"], unique=False
        )

    op.create_table(
        "lab_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner", "admin", "member", "viewer", name="role", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_lab_memberships_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_lab_memberships_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lab_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_memberships")),
        sa.UniqueConstraint("lab_id", "user_id", name=op.f("uq_lab_memberships_lab_id_user_id")),
    )
    with op.batch_alter_table("lab_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lab_memberships_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lab_memberships_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lab_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_projects_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_projects_lab_id_labs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("lab_id", "name", name=op.f("uq_projects_lab_id_name")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_name"), ["name"], unique=False)

    op.create_table(
        "instrument_definition_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_code", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("change_summary", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "approved_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["users.id"],
            name=op.f("fk_instrument_definition_versions_approved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_instrument_definition_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["instrument_definitions.id"],
            name=op.f("fk_instrument_definition_versions_definition_id_instrument_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_definition_versions")),
        sa.UniqueConstraint(
            "definition_id",
            "version",
            name=op.f("uq_instrument_definition_versions_definition_id_version"),
        ),
    )
    with op.batch_alter_table("instrument_definition_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_definition_versions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_definition_versions_definition_id"),
            ["definition_id"],
            unique=False,
        )

    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("instrument_type", sa.String(length=20), nullable=False),
        sa.Column("pybirch_class", sa.String(length=255), nullable=False),
        sa.Column("manufacturer", sa.String(length=255), nullable=True),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("serial_number", sa.String(length=255), nullable=True),
        sa.Column("adapter", sa.String(length=255), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("calibration_date", sa.Date(), nullable=True),
        sa.Column("calibration_due", sa.Date(), nullable=True),
        sa.Column("maintenance_interval_days", sa.Integer(), nullable=True),
        sa.Column("next_maintenance", sa.Date(), nullable=True),
        sa.Column(
            "last_settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "last_connected", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "specifications",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_instruments_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["instrument_definitions.id"],
            name=op.f("fk_instruments_definition_id_instrument_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_instruments_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("lab_id", "name", name=op.f("uq_instruments_lab_id_name")),
    )
    with op.batch_alter_table("instruments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instruments_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_instruments_instrument_type"), ["instrument_type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_instruments_lab_id"), ["lab_id"], unique=False)

    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("sample_id", sa.String(length=100), nullable=False),
        sa.Column("material", sa.String(length=255), nullable=False),
        sa.Column(
            "additional_tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image_png", sa.LargeBinary(), nullable=True),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_samples_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_samples_lab_id_labs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_samples_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("lab_id", "sample_id", name=op.f("uq_samples_lab_id_sample_id")),
    )
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_samples_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_samples_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_samples_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_samples_sample_id"), ["sample_id"], unique=False)

    op.create_table(
        "scan_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scan_type", sa.String(length=100), nullable=False),
        sa.Column("job_type", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_scan_templates_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_scan_templates_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_scan_templates_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_templates")),
    )
    with op.batch_alter_table("scan_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scan_templates_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scan_templates_lab_id"), ["lab_id"], unique=False)

    op.create_table(
        "computer_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("computer_id", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=255), nullable=True),
        sa.Column("adapter_type", sa.String(length=50), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column(
            "last_connected", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["computer_id"],
            ["computers.id"],
            name=op.f("fk_computer_bindings_computer_id_computers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_computer_bindings_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_computer_bindings_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_computer_bindings")),
        sa.UniqueConstraint(
            "instrument_id",
            "computer_id",
            name=op.f("uq_computer_bindings_instrument_id_computer_id"),
        ),
    )
    with op.batch_alter_table("computer_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_computer_bindings_computer_id"), ["computer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_computer_bindings_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_computer_bindings_instrument_id"), ["instrument_id"], unique=False
        )

    op.create_table(
        "instrument_status",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column(
            "last_connected", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "current_settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_instrument_status_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_status")),
    )
    with op.batch_alter_table("instrument_status", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_status_instrument_id"), ["instrument_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_status_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.String(length=100), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("sample_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("execution_mode", sa.String(length=20), nullable=False),
        sa.Column("max_parallel_scans", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("computer_name", sa.String(length=255), nullable=True),
        sa.Column("total_scans", sa.Integer(), nullable=False),
        sa.Column("completed_scans", sa.Integer(), nullable=False),
        sa.Column(
            "started_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "completed_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_queues_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_queues_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_queues_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_queues_sample_id_samples"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("queue_id", name=op.f("uq_queues_queue_id")),
    )
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queues_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_queues_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_queues_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_queues_status"), ["status"], unique=False)

    op.create_table(
        "queue_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "timestamp", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_queue_logs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_logs_queue_id_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_logs")),
    )
    with op.batch_alter_table("queue_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_logs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_queue_logs_queue_id"), ["queue_id"], unique=False)

    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("sample_id", sa.Integer(), nullable=True),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("project_name", sa.String(length=255), nullable=False),
        sa.Column("scan_name", sa.String(length=255), nullable=False),
        sa.Column("scan_type", sa.String(length=100), nullable=False),
        sa.Column("job_type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("computer_name", sa.String(length=255), nullable=True),
        sa.Column(
            "scan_tree_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "instrument_settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "driver_versions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("total_points", sa.BigInteger(), nullable=False),
        sa.Column("points_done", sa.BigInteger(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column(
            "started_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "completed_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_scans_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_scans_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_scans_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_scans_queue_id_queues"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_scans_sample_id_samples"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["scan_templates.id"],
            name=op.f("fk_scans_template_id_scan_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_scans_scan_id")),
    )
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scans_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_scans_lab_created", ["lab_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_scans_lab_status_created", ["lab_id", "status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scans_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scans_queue_id"), ["queue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scans_sample_id"), ["sample_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scans_scan_name"), ["scan_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_scans_status"), ["status"], unique=False)

    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("analysis_type", sa.String(length=100), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "completed_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_analyses_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_analyses_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_analyses_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
    )
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyses_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_scan_id"), ["scan_id"], unique=False)

    op.create_table(
        "measurement_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("instrument_name", sa.String(length=255), nullable=True),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.Column(
            "columns",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "point_shape",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "extra_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_measurement_objects_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_measurement_objects_instrument_id_instruments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
            name=op.f("fk_measurement_objects_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_objects")),
        sa.UniqueConstraint("scan_id", "name", name=op.f("uq_measurement_objects_scan_id_name")),
    )
    with op.batch_alter_table("measurement_objects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurement_objects_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_measurement_objects_scan_id"), ["scan_id"], unique=False
        )

    op.create_table(
        "scan_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "timestamp", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_scan_logs_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_logs")),
    )
    with op.batch_alter_table("scan_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_logs_scan_id"), ["scan_id"], unique=False)

    op.create_table(
        "analysis_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("uncertainty", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=50), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_analysis_results_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_results")),
    )
    with op.batch_alter_table("analysis_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analysis_results_analysis_id"), ["analysis_id"], unique=False
        )

    op.create_table(
        "measurement_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("measurement_object_id", sa.Integer(), nullable=False),
        sa.Column("first_row", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("first_point", sa.BigInteger(), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("rows_per_point", sa.Integer(), nullable=True),
        sa.Column("codec", sa.String(length=20), nullable=False),
        sa.Column(
            "frame_sizes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", pybirch.database.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["measurement_object_id"],
            ["measurement_objects.id"],
            name=op.f("fk_measurement_chunks_measurement_object_id_measurement_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_chunks")),
        sa.UniqueConstraint(
            "measurement_object_id",
            "first_row",
            name=op.f("uq_measurement_chunks_measurement_object_id_first_row"),
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Chunks are compressed already: keep PostgreSQL from trying again (TOAST).
        op.execute("ALTER TABLE measurement_chunks ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:

    op.drop_table("measurement_chunks")
    with op.batch_alter_table("analysis_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_results_analysis_id"))

    op.drop_table("analysis_results")
    with op.batch_alter_table("scan_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_logs_scan_id"))

    op.drop_table("scan_logs")
    with op.batch_alter_table("measurement_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurement_objects_scan_id"))
        batch_op.drop_index(batch_op.f("ix_measurement_objects_created_at"))

    op.drop_table("measurement_objects")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyses_scan_id"))
        batch_op.drop_index(batch_op.f("ix_analyses_lab_id"))
        batch_op.drop_index(batch_op.f("ix_analyses_created_at"))

    op.drop_table("analyses")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scans_status"))
        batch_op.drop_index(batch_op.f("ix_scans_scan_name"))
        batch_op.drop_index(batch_op.f("ix_scans_sample_id"))
        batch_op.drop_index(batch_op.f("ix_scans_queue_id"))
        batch_op.drop_index(batch_op.f("ix_scans_project_id"))
        batch_op.drop_index("ix_scans_lab_status_created")
        batch_op.drop_index("ix_scans_lab_created")
        batch_op.drop_index(batch_op.f("ix_scans_created_at"))

    op.drop_table("scans")
    with op.batch_alter_table("queue_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_logs_queue_id"))
        batch_op.drop_index(batch_op.f("ix_queue_logs_created_at"))

    op.drop_table("queue_logs")
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queues_status"))
        batch_op.drop_index(batch_op.f("ix_queues_project_id"))
        batch_op.drop_index(batch_op.f("ix_queues_lab_id"))
        batch_op.drop_index(batch_op.f("ix_queues_created_at"))

    op.drop_table("queues")
    with op.batch_alter_table("instrument_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_status_updated_at"))
        batch_op.drop_index(batch_op.f("ix_instrument_status_instrument_id"))

    op.drop_table("instrument_status")
    with op.batch_alter_table("computer_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_computer_bindings_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_computer_bindings_created_at"))
        batch_op.drop_index(batch_op.f("ix_computer_bindings_computer_id"))

    op.drop_table("computer_bindings")
    with op.batch_alter_table("scan_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_templates_lab_id"))
        batch_op.drop_index(batch_op.f("ix_scan_templates_created_at"))

    op.drop_table("scan_templates")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_samples_sample_id"))
        batch_op.drop_index(batch_op.f("ix_samples_project_id"))
        batch_op.drop_index(batch_op.f("ix_samples_lab_id"))
        batch_op.drop_index(batch_op.f("ix_samples_created_at"))

    op.drop_table("samples")
    with op.batch_alter_table("instruments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instruments_lab_id"))
        batch_op.drop_index(batch_op.f("ix_instruments_instrument_type"))
        batch_op.drop_index(batch_op.f("ix_instruments_created_at"))

    op.drop_table("instruments")
    with op.batch_alter_table("instrument_definition_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_definition_versions_definition_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_definition_versions_created_at"))

    op.drop_table("instrument_definition_versions")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_name"))
        batch_op.drop_index(batch_op.f("ix_projects_lab_id"))
        batch_op.drop_index(batch_op.f("ix_projects_created_at"))

    op.drop_table("projects")
    with op.batch_alter_table("lab_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_lab_memberships_lab_id"))
        batch_op.drop_index(batch_op.f("ix_lab_memberships_created_at"))

    op.drop_table("lab_memberships")
    with op.batch_alter_table("instrument_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_definitions_lab_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_definitions_created_at"))

    op.drop_table("instrument_definitions")
    with op.batch_alter_table("computers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_computers_lab_id"))
        batch_op.drop_index(batch_op.f("ix_computers_created_at"))

    op.drop_table("computers")
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labs_created_at"))

    op.drop_table("labs")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_created_at"))

    op.drop_table("users")
