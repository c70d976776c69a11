"""Jinja filters for times, durations and statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask


def when(moment: datetime | None) -> str:
    """A timestamp as ``2026-11-21 14:03`` (UTC), or an em dash."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def percent(fraction: float | None) -> str:
    """0.4231 as ``42 %``."""
    return "—" if fraction is None else f"{100 * fraction:.0f} %"


def computer(queue: Any, unknown: str = "—") -> str:
    """The computer that runs a queue: its name on the Computers page, else its host name."""
    return (queue.extra_data or {}).get("computer") or queue.computer_name or unknown


def register_filters(app: Flask) -> None:
    """Make the filters available to every template."""
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["computer"] = computer
    app.jinja_env.filters["percent"] = percent
