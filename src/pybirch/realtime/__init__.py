"""Live events: what a running scan or queue tells the browsers watching it.

The engine's extensions publish :mod:`events` on an in-process :class:`EventBus`; the
web server's Socket.IO bridge forwards them to the rooms of each scan, queue and lab.
Data points are coalesced so a fast scan sends a few messages a second, not thousands.
"""

from pybirch.realtime.bus import EventBus
from pybirch.realtime.events import DataPoints, Event, QueueLogEvent, QueueStatus, ScanStatus
from pybirch.realtime.extension import RealtimeExtension
from pybirch.realtime.follow import follow_queue

__all__ = [
    "DataPoints",
    "Event",
    "EventBus",
    "QueueLogEvent",
    "QueueStatus",
    "RealtimeExtension",
    "ScanStatus",
    "follow_queue",
]
