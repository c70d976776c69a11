"""A full-speed scan's live rows leave a lab computer in messages the server accepts.

The server closes a Socket.IO connection whose message passes its buffer limit (1 MB by
default); the uplink cuts a big ``data_point`` event into consecutive pieces instead.
"""

from __future__ import annotations

import json

import numpy as np

from pybirch.realtime.event_size import MAX_VALUES_PER_MESSAGE, in_pieces
from pybirch.realtime.events import DataPoints, ScanStatus

ENGINEIO_DEFAULT_BUFFER = 1_000_000


def rows_event(rows: int, first_row: int = 500) -> DataPoints:
    """Live rows as a lock-in map sends them: seven columns of full-precision floats."""
    rng = np.random.default_rng(0)
    labels = ["X (V)", "Y (V)", "R (V)", "Theta (deg)", "x (mm)", "y (mm)", "timestamp"]
    data = {label: rng.normal(size=rows).tolist() for label in labels}
    return DataPoints("scan-1", "Lock-in", first_row, data, lab_id=3)


def test_a_big_event_goes_as_consecutive_pieces_under_the_servers_limit() -> None:
    event = rows_event(40_000)
    assert len(json.dumps(event.payload())) > ENGINEIO_DEFAULT_BUFFER  # as sent before
    pieces = in_pieces(event)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(json.dumps(piece.payload())) < ENGINEIO_DEFAULT_BUFFER
        assert sum(len(values) for values in piece.data.values()) <= MAX_VALUES_PER_MESSAGE
        assert (piece.scan_id, piece.measurement, piece.lab_id) == ("scan-1", "Lock-in", 3)
    starts = [piece.first_row for piece in pieces]
    counts = [len(piece.data["X (V)"]) for piece in pieces]
    assert starts == [500 + sum(counts[:i]) for i in range(len(pieces))]
    for label, values in event.data.items():
        assert [v for piece in pieces for v in piece.data[label]] == values


def test_small_events_and_other_events_go_as_they_are() -> None:
    small = rows_event(100)
    assert in_pieces(small) == [small]
    status = ScanStatus("scan-1", "running", 0.5, 3, 7)
    assert in_pieces(status) == [status]
    uneven = DataPoints("scan-1", "Spectrum", 0, {"a": [1.0] * 30_000, "b": [2.0]})
    assert in_pieces(uneven) == [uneven]
