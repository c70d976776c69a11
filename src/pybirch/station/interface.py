"""The one interface through which the web reaches a station, on this server or elsewhere.

:class:`~pybirch.station.station.Station` is it for the server's own computer; the web's
remote station speaks the same calls to a lab computer's agent over its link (see
:mod:`pybirch.station.wire` for what crosses it).
"""

from __future__ import annotations

from typing import Any, Protocol

from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.station.actions import Action
from pybirch.station.manual_control import ManualTarget, Moved, Reading, SettingsApplied
from pybirch.station.requests import (
    Enqueued,
    EnqueueRequest,
    FoundInstruments,
    LoadSummary,
    QueueSummary,
)


class StationInterface(Protocol):
    """What the web asks of any computer's station."""

    @property
    def name(self) -> str:
        """The computer's name, for messages."""

    def enqueue(self, request: EnqueueRequest) -> Enqueued:
        """Build and queue a scan (DesignError by field if it cannot)."""

    def control(self, queue_id: int, action: Action | str, scan_id: str | None = None) -> str:
        """Act on a queue or one of its scans; the new state (StationError if refused)."""

    def queues(self, lab_id: int | None = None) -> list[QueueSummary]:
        """The queues the station runs."""

    def catalogue(self) -> list[InstrumentInfo]:
        """The instruments scans can be built from."""

    def find_instruments(self) -> FoundInstruments:
        """A VISA resource scan of the computer: what answers, and which driver fits."""

    def load_bound(self) -> LoadSummary:
        """Load the instruments bound to the computer since it last loaded them."""

    def move(self, target: ManualTarget, position: float) -> Moved:
        """Move a movement instrument (StationError if refused, InstrumentActionError if failed)."""

    def measure_once(self, target: ManualTarget) -> Reading:
        """Take one reading of a measurement instrument (errors as for :meth:`move`)."""

    def apply_settings(self, target: ManualTarget, settings: dict[str, Any]) -> SettingsApplied:
        """Set settings on the live instrument and write them back (errors as for :meth:`move`)."""
