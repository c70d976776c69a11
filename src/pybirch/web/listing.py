"""The query arguments pages and API routes read: search text, whole numbers, choices.

Each is parsed strictly: a value that is not what the route documents is a 400 that says
why, never silently replaced by a default (``page=false`` is not page 1). The OpenAPI
document is built from the same limits.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import abort, request

from pybirch.database.services.paging import MAX_PER_PAGE

#: Highest page number asked for (far past any real list; keeps offsets in range).
MAX_PAGE = 1_000_000
#: Highest row number of a measurement a request may name (JSON's exact integers).
MAX_ROW = 2**53 - 1


def search_text() -> str | None:
    """``?q=``, stripped; None when empty; 400 if it holds a NUL character."""
    text = (request.args.get("q") or "").strip()
    if "\x00" in text:  # no database text holds one (PostgreSQL cannot)
        abort(400, "q must not contain a NUL character")
    return text or None


def optional_number(name: str, minimum: int, maximum: int) -> int | None:
    """``?name=`` as a whole number from ``minimum`` to ``maximum``; None if absent."""
    text = request.args.get(name)
    if text is None or text == "":
        return None
    # Digits only: no sign, decimals or exponent; longer than the maximum is out of range.
    if text.isascii() and text.isdigit() and len(text) <= len(str(maximum)):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    abort(400, f"{name} must be a whole number from {minimum} to {maximum}, not {text!r}")


def whole_number(name: str, default: int, minimum: int, maximum: int) -> int:
    """``?name=`` as a whole number from ``minimum`` to ``maximum``; ``default`` if absent."""
    value = optional_number(name, minimum, maximum)
    return default if value is None else value


def page_number() -> int:
    """``?page=``, from 1 (the default) to :data:`MAX_PAGE`."""
    return whole_number("page", 1, 1, MAX_PAGE)


def page_size(default: int) -> int:
    """``?per_page=``, from 1 to the largest page a search returns."""
    return whole_number("per_page", default, 1, MAX_PER_PAGE)


def choice(name: str, allowed: Sequence[str]) -> str | None:
    """``?name=`` if it is one of ``allowed``; None if absent; 400 otherwise."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        abort(400, f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
    return value
