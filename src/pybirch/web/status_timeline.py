"""An instrument's status history as a timeline: one coloured segment per status held.

The history is a list of observations (each a status at a moment); a segment runs from
one observation to the next, the last one until now. Repeated observations of the same
status join into one segment, so a timeline shows changes, not heartbeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

#: Narrowest segment drawn, in percent of the timeline, so a short error still shows.
MIN_WIDTH_PERCENT = 0.4


class Observation(Protocol):
    """What a timeline needs of a status row (:class:`InstrumentStatus` is one)."""

    status: str
    updated_at: datetime
    error_message: str | None


@dataclass(frozen=True)
class Segment:
    """One status held from ``start`` to ``end``: ``percent`` of the timeline's width,
    beginning ``offset`` percent from its left end."""

    status: str
    start: datetime
    end: datetime
    percent: float
    offset: float = 0.0
    error: str | None = None

    @property
    def seconds(self) -> float:
        """How long the status was held."""
        return (self.end - self.start).total_seconds()


def status_segments(history: Sequence[Observation], now: datetime) -> list[Segment]:
    """The segments of ``history`` (any order), oldest first, the last one ending ``now``."""
    ordered = sorted(history, key=lambda row: row.updated_at)
    joined: list[Observation] = [
        row for i, row in enumerate(ordered) if i == 0 or row.status != ordered[i - 1].status
    ]
    if not joined:
        return []
    ends = [row.updated_at for row in joined[1:]] + [max(now, joined[-1].updated_at)]
    total = (ends[-1] - joined[0].updated_at).total_seconds()
    shares = [
        max((end - row.updated_at).total_seconds() / total * 100, MIN_WIDTH_PERCENT)
        if total > 0
        else 100.0 / len(joined)
        for row, end in zip(joined, ends, strict=True)
    ]
    scale = 100.0 / sum(shares)  # the narrowest were widened: the whole stays 100 %
    segments, offset = [], 0.0
    for row, end, share in zip(joined, ends, shares, strict=True):
        width = share * scale
        segments.append(Segment(row.status, row.updated_at, end, width, offset, row.error_message))
        offset += width
    return segments
