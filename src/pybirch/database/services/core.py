"""The part of DatabaseService that owns the engine and hands out sessions."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Select, event, inspect, or_, select
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from pybirch.database import migrate
from pybirch.database.config import normalize_url
from pybirch.database.engine import create_database_engine, is_sqlite, session_factory
from pybirch.database.errors import DatabaseError, DuplicateError, NotFoundError
from pybirch.database.models import Base
from pybirch.database.services.paging import Page, paginate

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=Base)


class ServiceCore:
    """Owns one engine; every call runs in its own short transaction."""

    def __init__(
        self,
        url_or_path: str | os.PathLike[str] | URL | None = None,
        *,
        auto_upgrade: bool | None = None,
        echo: bool = False,
    ) -> None:
        url = url_or_path if isinstance(url_or_path, URL) else normalize_url(url_or_path)
        self.engine = create_database_engine(url)
        self.engine.echo = echo
        event.listen(self.engine, "handle_error", _lookup_beyond_range)
        self.Session = session_factory(self.engine)
        # An embedded SQLite database is ours to keep current; a shared server is migrated
        # on purpose, by `pybirch db upgrade`.
        try:
            if auto_upgrade if auto_upgrade is not None else is_sqlite(self.engine):
                migrate.upgrade(self.engine)
            migrate.check_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> ServiceCore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.Session() as session:
            try:
                yield session
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                raise integrity_error(exc) from exc
            except StatementError as exc:
                session.rollback()
                if isinstance(exc.orig, ValueError):  # a value our column types refused
                    raise DatabaseError(str(exc.orig)) from exc
                raise
            except BaseException:
                session.rollback()
                raise

    # -- generic helpers the area mixins share -------------------------------------------

    def _get(self, session: Session, model: type[ModelT], key: Any) -> ModelT:
        try:
            row = session.get(model, key)
        except NotFoundError:  # a key beyond its column's range (see _lookup_beyond_range)
            raise NotFoundError(model.__name__, key) from None
        if row is None:
            raise NotFoundError(model.__name__, key)
        return row

    # Positional-only: an instrument has a column called ``model``.
    def _create(self, model: type[ModelT], /, **fields: Any) -> ModelT:
        _check_fields(model, fields)
        with self.session() as session:
            row = model(**fields)
            session.add(row)
            session.flush()
            return row

    def _fetch(self, model: type[ModelT], key: Any) -> ModelT:
        with self.session() as session:
            return self._get(session, model, key)

    def _update(self, model: type[ModelT], key: Any, /, **fields: Any) -> ModelT:
        _check_fields(model, fields)
        with self.session() as session:
            row = self._get(session, model, key)
            for name, value in fields.items():
                setattr(row, name, value)
            return row

    def _delete(self, model: type[ModelT], key: Any) -> None:
        with self.session() as session:
            session.delete(self._get(session, model, key))

    def _search(
        self,
        statement: Select[Any],
        *,
        text: str | None = None,
        text_columns: tuple[Any, ...] = (),
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Any]:
        if text:
            if "\x00" in text:  # PostgreSQL text cannot hold it, so no row could match
                raise ValueError("search text cannot contain a NUL character")
            pattern = f"%{_escape_like(text)}%"
            statement = statement.where(
                or_(*(column.ilike(pattern, escape="\\") for column in text_columns))
            )
        with self.session() as session:
            return paginate(session, statement, page, per_page)

    @staticmethod
    def _filtered(model: type[ModelT], **filters: Any) -> Select[Any]:
        """``select(model)`` with equality filters; None values are ignored."""
        statement = select(model)
        for name, value in filters.items():
            if value is not None:
                statement = statement.where(getattr(model, name) == value)
        return statement


def _lookup_beyond_range(context: ExceptionContext) -> None:
    """A query for a number beyond its column's range finds nothing: NotFoundError.

    PostgreSQL refuses such a parameter (SQLSTATE 22003, e.g. an id of 2**31 for an
    ``integer``) and SQLite's driver cannot bind one beyond 64 bits (OverflowError). No
    stored row can hold that number, so a lookup by it is "not found", whatever the
    route or service. Writes keep their error: a value that does not fit is not missing.
    """
    error = context.original_exception
    beyond = isinstance(error, OverflowError) or getattr(error, "sqlstate", None) == "22003"
    statement = (context.statement or "").lstrip()[:6].upper()
    if beyond and statement == "SELECT":
        raise NotFoundError("row", "with a number beyond its column's range")


def integrity_error(exc: IntegrityError) -> DatabaseError:
    """A specific error for a refused write: a duplicate, or a reference to nothing."""
    message = str(exc.orig)
    if "FOREIGN KEY" in message.upper() or "foreign key" in message:
        return DatabaseError(f"refers to a row that does not exist: {message}")
    if "UNIQUE" in message.upper() or "duplicate key" in message:
        return DuplicateError(f"conflicts with a stored row: {message}")
    return DatabaseError(f"the database refused the write: {message}")


def _check_fields(model: type[Base], fields: dict[str, Any]) -> None:
    known = set(inspect(model).attrs.keys())
    # A settable property stands for columns kept elsewhere (Scan.scan_tree_data).
    unknown = sorted(name for name in set(fields) - known if not _settable(model, name))
    if unknown:
        raise DatabaseError(f"{model.__name__} has no field(s) {unknown}")


def _settable(model: type[Base], name: str) -> bool:
    attribute = getattr(model, name, None)
    return isinstance(attribute, property) and attribute.fset is not None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
