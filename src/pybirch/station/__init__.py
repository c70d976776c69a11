"""One computer's instruments and queues, run the same way by ``pybirch serve`` and ``agent``."""

from pybirch.station.actions import QUEUE_ACTIONS, SCAN_ACTIONS, Action, UnknownActionError
from pybirch.station.interface import StationInterface
from pybirch.station.requests import (
    Enqueued,
    EnqueueRequest,
    FoundInstruments,
    LoadSummary,
    QueueChoice,
    QueueSummary,
)
from pybirch.station.station import Station, StationError, StationIdentity

__all__ = [
    "QUEUE_ACTIONS",
    "SCAN_ACTIONS",
    "Action",
    "EnqueueRequest",
    "Enqueued",
    "FoundInstruments",
    "LoadSummary",
    "QueueChoice",
    "QueueSummary",
    "Station",
    "StationError",
    "StationIdentity",
    "StationInterface",
    "UnknownActionError",
]
