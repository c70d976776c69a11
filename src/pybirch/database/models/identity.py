"""The database's own identity: one row, made once, that names this database wherever it is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from pybirch.database.models.base import Base, utcnow


class DatabaseIdentity(Base):
    """A random id stored in the database itself.

    A local spool belongs to the database that holds this id, however its URL is spelled
    (another host alias, a failover host, a connection pooler).
    """

    __tablename__ = "database_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
