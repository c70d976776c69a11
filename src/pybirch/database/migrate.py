"""Bringing a database's schema up to date with Alembic."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from pybirch.database.errors import SchemaError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration for PyBirch's migrations (on ``engine`` if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def head_revision() -> str:
    """The newest schema revision this PyBirch knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "PyBirch ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default)."""
    before = current_revision(engine)
    _migrate(engine, lambda config: command.upgrade(config, revision))
    after = current_revision(engine)
    if before != after:
        log.info("database %s migrated from %s to %s", _safe(engine), before, after)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``base``: no tables)."""
    before = current_revision(engine)
    _migrate(engine, lambda config: command.downgrade(config, revision))
    log.info("database %s migrated from %s back to %s", _safe(engine), before, revision)


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    """Run ``step`` in one transaction; on SQLite with foreign keys off meanwhile.

    SQLite alters a table by rebuilding it, and dropping the old table with foreign keys
    on deletes (cascades) every row that references it. The pragma only takes effect
    outside a transaction, so it is set before the migration's transaction begins, and
    the references are checked before that transaction commits.
    """
    config = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config)
                if sqlite:
                    _check_references(connection)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _check_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, row, parent, _ = broken[0]
        raise SchemaError(
            f"the migration left {len(broken)} broken reference(s), e.g. row {row} of "
            f"{table} to {parent}"
        )


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the database is at this PyBirch's revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError(
            f"the database {_safe(engine)} has no PyBirch tables; run `pybirch db upgrade`"
        )
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if current not in known:
        raise SchemaError(
            f"the database {_safe(engine)} is at revision {current}, newer than this PyBirch "
            f"({head}); upgrade PyBirch"
        )
    raise SchemaError(
        f"the database {_safe(engine)} is at revision {current}, this PyBirch needs {head}; "
        f"run `pybirch db upgrade`"
    )


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
