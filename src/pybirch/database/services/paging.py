"""One page of a search result, with the total count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Largest page a search returns.
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` of page ``page`` (from 1), ``per_page`` each, out of ``total``."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        """True if a later page exists."""
        return self.page < self.pages

    def to_dict(self, item: Any = None) -> dict[str, Any]:
        """JSON-able form; ``item`` turns each item into a dict."""
        return {
            "items": [item(x) for x in self.items] if item else self.items,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def paginate(session: Session, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Run ``statement`` for one page and count every match."""
    if page < 1:
        raise ValueError(f"page must be 1 or more, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be 1 to {MAX_PER_PAGE}, not {per_page}")
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, int(total or 0), page, per_page)
