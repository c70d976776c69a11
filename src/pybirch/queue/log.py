"""Queue log entries: kept in memory, filtered on request, mirrored to :mod:`logging`."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pybirch.queue.errors import QueueError

#: Every entry is also sent to this logger, so applications can route queue logs as usual.
LOGGER_NAME = "pybirch.queue"
logger = logging.getLogger(LOGGER_NAME)

#: The level names a :class:`LogEntry` uses, as in :mod:`logging`.
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One message of a queue's log; ``scan_id`` is set when it is about one scan."""

    timestamp: datetime
    level: str
    message: str
    scan_id: str | None = None
    queue_id: str = ""

    @property
    def levelno(self) -> int:
        """The numeric :mod:`logging` level of this entry."""
        return level_number(self.level)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the entry (timestamp in ISO 8601)."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "level": self.level,
            "message": self.message,
            "scan_id": self.scan_id,
            "queue_id": self.queue_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogEntry:
        """Rebuild an entry written by :meth:`to_dict`."""
        return cls(
            timestamp=datetime.fromisoformat(data["timestamp"]),
            level=normalize_level(data["level"]),
            message=str(data["message"]),
            scan_id=data.get("scan_id"),
            queue_id=str(data.get("queue_id", "")),
        )


def normalize_level(level: str | int) -> str:
    """The upper-case level name for ``"info"``, ``"INFO"`` or ``logging.INFO``."""
    name = logging.getLevelName(level) if isinstance(level, int) else str(level).upper()
    if name == "WARN":
        name = "WARNING"
    if name not in LEVELS:
        raise QueueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    return name


def level_number(level: str | int) -> int:
    """The numeric :mod:`logging` level for a level name or number."""
    return logging.getLevelNamesMapping()[normalize_level(level)]


class LogBook:
    """A bounded, thread-safe list of entries with the filters :meth:`Queue.get_logs` offers."""

    def __init__(self, max_entries: int) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def append(self, entry: LogEntry) -> None:
        """Keep ``entry``; the oldest entry is dropped once ``max_entries`` are kept."""
        with self._lock:
            self._entries.append(entry)

    def extend(self, entries: Iterable[LogEntry]) -> None:
        """Keep several entries, oldest first."""
        with self._lock:
            self._entries.extend(entries)

    def select(
        self,
        level: str | int | None = None,
        scan_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """Entries at least as severe as ``level``, about ``scan_id``, after ``since``.

        ``limit`` keeps the most recent entries; the result is always oldest first.
        """
        minimum = level_number(level) if level is not None else None
        if since is not None and since.tzinfo is None:
            since = since.astimezone(UTC)  # a naive time is local time, as datetime.now() gives
        with self._lock:
            entries = list(self._entries)
        selected = [
            e
            for e in entries
            if (minimum is None or e.levelno >= minimum)
            and (scan_id is None or e.scan_id == scan_id)
            and (since is None or e.timestamp > since)
        ]
        if limit is not None:
            if limit < 0:
                raise QueueError(f"limit must be 0 or more, not {limit}")
            selected = selected[len(selected) - limit :] if limit else []
        return selected


def now() -> datetime:
    """The current time, timezone-aware in UTC (what every queue timestamp uses)."""
    return datetime.now(UTC)
