"""scan definitions apart from the scans row, positions compact

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 00:45:00.000000

A scan's tree moves from ``scans.scan_tree_data`` to a ``scan_definitions`` row of its own,
so status and progress updates of a running scan never rewrite it. Every position list of
a stored tree becomes float64 bytes beside the tree (exact; 8 bytes a number instead of a
JSON number each). Scans are moved a few at a time, so memory does not grow with the
database.

``scans`` is altered in place (``recreate="never"``; SQLite 3.35 drops and adds columns
itself): rebuilding it would drop the old table, which with foreign keys on deletes every
row that references a scan (its data, logs and the definitions just written).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pybirch.database.packed_json import pack, unpack

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Scans read per query while moving trees.
_BATCH = 100
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_scans = sa.table("scans", sa.column("id", sa.Integer()), sa.column("scan_tree_data", _JSON))
_definitions = sa.table(
    "scan_definitions",
    sa.column("scan_id", sa.Integer()),
    sa.column("tree", _JSON),
    sa.column("positions", sa.LargeBinary()),
)


def upgrade() -> None:
    op.create_table(
        "scan_definitions",
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("tree", _JSON, nullable=False),
        sa.Column("positions", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
            name=op.f("fk_scan_definitions_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_scan_definitions")),
    )
    connection = op.get_bind()
    for rows in _batches(connection, sa.select(_scans.c.id, _scans.c.scan_tree_data), _scans.c.id):
        definitions = []
        for scan_id, tree in rows:
            packed, positions = pack(_positions_as_arrays(tree or {}))
            definitions.append({"scan_id": scan_id, "tree": packed, "positions": positions})
        connection.execute(_definitions.insert(), definitions)
    with op.batch_alter_table("scans", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("scan_tree_data")


def downgrade() -> None:
    # The column keeps its default: dropping it would rebuild the table (see above).
    with op.batch_alter_table("scans", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("scan_tree_data", _JSON, nullable=False, server_default=sa.text("'{}'"))
        )
    connection = op.get_bind()
    query = sa.select(_definitions.c.scan_id, _definitions.c.tree, _definitions.c.positions)
    for rows in _batches(connection, query, _definitions.c.scan_id):
        for scan_id, tree, positions in rows:
            connection.execute(
                _scans.update()
                .where(_scans.c.id == scan_id)
                .values(scan_tree_data=unpack(tree, positions, as_lists=True))
            )
    op.drop_table("scan_definitions")


def _batches(
    connection: sa.Connection, query: sa.Select[Any], key: sa.ColumnElement[int]
) -> Iterator[list[sa.Row[Any]]]:
    """The rows of ``query`` a few at a time, in order of ``key``."""
    last = None
    while True:
        page = query.order_by(key).limit(_BATCH)
        rows = list(connection.execute(page if last is None else page.where(key > last)))
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _positions_as_arrays(value: Any) -> Any:
    """The tree with every ``positions`` list of numbers as a float64 array."""
    if isinstance(value, dict):
        return {
            key: np.array(item, dtype=float)
            if key == "positions" and isinstance(item, list)
            else _positions_as_arrays(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_positions_as_arrays(item) for item in value]
    return value
