"""The live events, named as the browser receives them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Something to tell the browsers; ``name`` is the Socket.IO event name."""

    name: ClassVar[str] = ""
    #: Room keys the event goes to, e.g. ``("scan", "ab12...")``.
    rooms: ClassVar[tuple[str, ...]] = ()

    def payload(self) -> dict[str, Any]:
        """The JSON document sent."""
        return asdict(self)


@dataclass(frozen=True)
class ScanStatus(Event):
    """``scan_status``: a scan's state and progress."""

    name: ClassVar[str] = "scan_status"
    scan_id: str
    status: str
    progress: float
    lab_id: int | None = None
    queue_id: int | None = None
    timestamp: float = field(default_factory=time.time)
    #: Why, when it says more than the status (a pause for an instrument that dropped).
    message: str | None = None


@dataclass(frozen=True)
class QueueStatus(Event):
    """``queue_status``: a queue's state and the scan it runs."""

    name: ClassVar[str] = "queue_status"
    queue_id: int
    status: str
    current_scan: str | None
    lab_id: int | None = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class QueueLogEvent(Event):
    """``queue_log``: one log entry of a queue."""

    name: ClassVar[str] = "queue_log"
    queue_id: int
    level: str
    message: str
    scan_id: str | None = None
    lab_id: int | None = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class DataPoints(Event):
    """``data_point``: consecutive rows of one measurement of a scan, column by column.

    ``first_row`` lets a browser that reconnects ask for exactly what it missed.
    """

    name: ClassVar[str] = "data_point"
    scan_id: str
    measurement: str
    first_row: int
    data: dict[str, list[float | None]]
    lab_id: int | None = None


@dataclass(frozen=True)
class InstrumentStatus(Event):
    """``instrument_status``: an instrument became connected, busy, offline or failed."""

    name: ClassVar[str] = "instrument_status"
    instrument: str
    status: str
    computer: str | None = None
    lab_id: int | None = None
    timestamp: float = field(default_factory=time.time)
    #: Why it is disconnected or failed (None when connected or busy).
    error: str | None = None
    #: The instrument's record (names are unique per computer, not per lab).
    instrument_id: int | None = None


#: Every live event by name, as a browser or the server receives it.
EVENT_TYPES: dict[str, type[Event]] = {
    kind.name: kind
    for kind in (ScanStatus, QueueStatus, QueueLogEvent, DataPoints, InstrumentStatus)
}


def event_from_message(name: str, payload: dict[str, Any]) -> Event:
    """Rebuild an event from its name and payload; ValueError if it is not a live event."""
    kind = EVENT_TYPES.get(name)
    if kind is None:
        raise ValueError(f"{name!r} is not a live event")
    try:
        return kind(**payload)
    except TypeError as exc:
        raise ValueError(f"bad {name} payload: {exc}") from exc
