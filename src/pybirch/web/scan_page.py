"""What a scan page shows beside the record: its controls by state and its drivers in words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: The actions a scan obeys in each state (the queue's rules: a queued scan can only be
#: dropped, a finished one nothing). The page enables exactly these buttons.
SCAN_CONTROLS: dict[str, tuple[str, ...]] = {
    "queued": ("abort",),
    "running": ("pause", "abort"),
    "paused": ("resume", "abort"),
}


def allowed_controls(status: str) -> tuple[str, ...]:
    """The actions a scan in ``status`` obeys."""
    return SCAN_CONTROLS.get(status, ())


def parse_tags(text: str) -> list[str]:
    """Tags typed as one line, separated by commas (cleaned by the database service)."""
    return [tag for tag in text.split(",") if tag.strip()]


def driver_label(
    origin: dict[str, Any] | None, fallback_class: str | None = None
) -> tuple[str, str]:
    """A driver in two lines: what it is, and which version of it.

    A stored definition reads ``stored NAME vN`` over its code hash; a driver file its
    class over the file; an installed driver its class over its version.
    """
    origin = origin or {}
    kind = origin.get("kind")
    path = origin.get("class") or fallback_class or ""
    short = path.rsplit(".", 1)[-1] or "—"
    version = origin.get("version")
    if kind == "definition":
        name = origin.get("name") or short
        title = f"stored {name} v{version}" if version is not None else f"stored {name}"
        code_hash = origin.get("code_hash")
        return title, f"code {code_hash[:12]}" if code_hash else ""
    if kind == "file":
        where = origin.get("path") or "a driver file"
        return short, f"file {where}" + (f", version {version}" if version else "")
    return short, (f"version {version}" if version else "")


def log_time(moment: datetime | None) -> str:
    """A log line's time to the second, UTC (the page's JavaScript writes new lines alike)."""
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
