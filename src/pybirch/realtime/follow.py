"""Following a queue: its states, log and scans published as live events."""

from __future__ import annotations

from typing import Any

from pybirch.realtime.bus import EventBus
from pybirch.realtime.events import QueueLogEvent, QueueStatus
from pybirch.realtime.extension import RealtimeExtension


def follow_queue(queue: Any, bus: EventBus) -> None:
    """Publish a DatabaseQueue's states, logs and its scans' rows and statuses on ``bus``."""
    lab_id, queue_id = queue.lab_id, queue.db_queue_id

    def current_scan() -> str | None:
        running = [h.scan_id for h in queue.handles if h.state.value in ("running", "paused")]
        return running[0] if running else None

    queue.add_queue_state_callback(
        lambda state: bus.publish(QueueStatus(queue_id, state.value, current_scan(), lab_id))
    )
    queue.add_log_callback(
        lambda entry: bus.publish(
            QueueLogEvent(queue_id, entry.level, entry.message, entry.scan_id, lab_id)
        )
    )
    queue.add_scan_extension_factory(
        lambda scan_id: RealtimeExtension(bus, scan_id, lab_id, queue_id)
    )
