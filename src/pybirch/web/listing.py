"""The query arguments every list page reads: search text and page number."""

from __future__ import annotations

from flask import request


def search_text() -> str | None:
    """``?q=``, stripped; None when empty."""
    return (request.args.get("q") or "").strip() or None


def page_number() -> int:
    """``?page=``, at least 1."""
    return max(1, request.args.get("page", 1, type=int))
