"""What the web asks of a station, and what a station says about itself, as plain data.

These cross a Socket.IO link to a lab computer's agent: each has ``to_dict`` and
``from_dict``, and ``from_dict`` refuses a document that is not one with a
:class:`~pybirch.scan.design.DesignError` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pybirch.instruments.visa_discovery import FoundInstrument
from pybirch.scan.design import DesignError, ScanDesign


@dataclass(frozen=True)
class QueueChoice:
    """The queue a new scan joins: one the station runs (by record id) or a new one (by name)."""

    id: int | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"id": ...}`` or ``{"name": ...}``."""
        return {"id": self.id} if self.id is not None else {"name": self.name}

    @classmethod
    def from_dict(cls, data: Any) -> QueueChoice:
        """Read :meth:`to_dict` output."""
        if isinstance(data, dict) and data.get("id") is not None:
            try:
                return cls(id=int(data["id"]))
            except (TypeError, ValueError):
                raise DesignError({"queue": "choose a queue"}) from None
        name = str(data.get("name") or "").strip() if isinstance(data, dict) else ""
        if not name:
            raise DesignError({"new_queue": "name the new queue"})
        return cls(name=name)


@dataclass(frozen=True)
class EnqueueRequest:
    """Build a scan from ``design`` on a station, add it to a queue, and start it if asked."""

    lab_id: int
    design: ScanDesign
    queue: QueueChoice
    sample_id: int | None = None
    operator: str | None = None
    start: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The ``enqueue`` message of the agent protocol."""
        return {
            "lab_id": self.lab_id,
            "design": self.design.to_dict(),
            "queue": self.queue.to_dict(),
            "sample_id": self.sample_id,
            "operator": self.operator,
            "start": self.start,
        }

    @classmethod
    def from_dict(cls, data: Any) -> EnqueueRequest:
        """Read an ``enqueue`` message."""
        if not isinstance(data, dict):
            raise DesignError({"scan": "not an enqueue request"})
        try:
            lab_id = int(data["lab_id"])
            sample_id = None if data.get("sample_id") is None else int(data["sample_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DesignError({"scan": f"bad enqueue request: {exc!r}"}) from None
        return cls(
            lab_id=lab_id,
            design=ScanDesign.from_dict(data.get("design") or {}),
            queue=QueueChoice.from_dict(data.get("queue") or {}),
            sample_id=sample_id,
            operator=str(data.get("operator") or "") or None,
            start=bool(data.get("start")),
        )


@dataclass(frozen=True)
class Enqueued:
    """Where a scan went: its id and its queue's record id and name."""

    scan_id: str
    queue_id: int
    queue_name: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Enqueued:
        """Read :meth:`to_dict` output."""
        return cls(str(data["scan_id"]), int(data["queue_id"]), str(data.get("queue_name", "")))


@dataclass(frozen=True)
class QueueSummary:
    """A queue a station runs: record id, name, state and lab."""

    id: int
    name: str
    state: str
    lab_id: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueSummary:
        """Read :meth:`to_dict` output (KeyError, TypeError or ValueError if it is not one)."""
        lab_id = data.get("lab_id")
        return cls(
            int(data["id"]),
            str(data["name"]),
            str(data["state"]),
            None if lab_id is None else int(lab_id),
        )


@dataclass(frozen=True)
class LoadSummary:
    """What loading a computer's bound instruments gave: names loaded, and why others not."""

    loaded: list[str]
    failed: dict[str, str]


@dataclass(frozen=True)
class FoundInstruments:
    """A VISA resource scan of a computer, with the kind of every driver it proposes."""

    found: list[FoundInstrument]
    #: Driver import path -> ``movement`` or ``measurement``.
    driver_kinds: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"found": [f.to_dict() for f in self.found], "driver_kinds": self.driver_kinds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoundInstruments:
        """Read :meth:`to_dict` output (KeyError, TypeError or ValueError if it is not one)."""
        kinds = data["driver_kinds"]
        if not isinstance(kinds, dict):
            raise TypeError("driver_kinds must be an object")
        return cls(
            [FoundInstrument.from_dict(each) for each in data["found"]],
            {str(path): str(kind) for path, kind in kinds.items()},
        )
