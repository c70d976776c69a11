"""Live events small enough for one Socket.IO message.

The server closes a connection that sends a message beyond its ``max_http_buffer_size``
(python-engineio's default: 1 MB). A lab computer's scan at full speed coalesces tens of
thousands of rows into one ``data_point`` event (see :mod:`pybirch.realtime.extension`),
so the agent's uplink sends such an event as consecutive pieces, each with its own first
row: a browser places rows by their index, so it sees the same rows either way.
"""

from __future__ import annotations

from dataclasses import replace

from pybirch.realtime.events import DataPoints, Event

#: Numbers one message carries at most (a JSON number takes up to about 24 bytes).
MAX_VALUES_PER_MESSAGE = 16_384


def in_pieces(event: Event, max_values: int = MAX_VALUES_PER_MESSAGE) -> list[Event]:
    """``event``, or its rows as consecutive ``data_point`` events of at most ``max_values``."""
    if not isinstance(event, DataPoints) or not event.data:
        return [event]
    lengths = {len(values) for values in event.data.values()}
    if len(lengths) != 1:
        return [event]  # columns of different lengths: not rows to cut
    (rows,) = lengths
    step = max(1, max_values // len(event.data))
    if rows <= step:
        return [event]
    return [
        replace(
            event,
            first_row=event.first_row + start,
            data={label: values[start : start + step] for label, values in event.data.items()},
        )
        for start in range(0, rows, step)
    ]
