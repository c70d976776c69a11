"""The database's own identity: a random id stored in it, whatever its URL looks like."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from pybirch.database.errors import DatabaseError
from pybirch.database.models import DatabaseIdentity
from pybirch.database.services.core import ServiceCore


class IdentityMixin(ServiceCore):
    """Which database this is, independent of host aliases, failover hosts and poolers."""

    _identity: str | None = None

    def database_identity(self) -> str:
        """The id held in ``database_identity`` (created if missing), cached per service."""
        if self._identity is None:
            self._identity = self._stored_identity() or self._create_identity()
        return self._identity

    def _stored_identity(self) -> str | None:
        # Two processes creating the row at once leave two rows; all agree on the first.
        statement = select(DatabaseIdentity.identity).order_by(DatabaseIdentity.id).limit(1)
        with self.session() as session:
            return session.scalars(statement).first()

    def _create_identity(self) -> str:
        """Insert an identity row (a database migrated without one), then read the first."""
        with self.session() as session:
            session.add(DatabaseIdentity(identity=str(uuid.uuid4())))
        identity = self._stored_identity()
        if identity is None:
            raise DatabaseError("the database lost the identity row just inserted")
        return identity
