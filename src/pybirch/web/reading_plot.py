"""A reading of many rows (a spectrum, a trace) as a small SVG line, drawn on the server.

The page needs no plotting library for one reading: the first column is x and the second
y (a single column is drawn against the row number), thinned to at most
:data:`MAX_PLOT_POINTS` points.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybirch.instruments.base import column_label
from pybirch.station.manual_control import Reading

#: Most points drawn of one reading.
MAX_PLOT_POINTS = 1000
#: Size of the drawing, in SVG units (it scales to the page's width).
WIDTH, HEIGHT = 600.0, 240.0


@dataclass(frozen=True)
class ReadingPlot:
    """The polyline of a reading, with its axes' labels and ranges."""

    points: str
    x_label: str
    y_label: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: float = WIDTH
    height: float = HEIGHT


def reading_plot(reading: Reading) -> ReadingPlot | None:
    """The plot of a reading, or None if it has no two finite points to join."""
    labels = [column_label(c, u) for c, u in zip(reading.columns, reading.units, strict=False)]
    if len(reading.columns) >= 2:
        pairs = [(row[0], row[1]) for row in reading.rows]
        x_label, y_label = labels[0], labels[1]
    else:
        pairs = [(float(i), row[0] if row else None) for i, row in enumerate(reading.rows)]
        x_label, y_label = "row", labels[0] if labels else "value"
    finite = [(x, y) for x, y in pairs if x is not None and y is not None]
    if len(finite) < 2:
        return None
    step = max(1, -(-len(finite) // MAX_PLOT_POINTS))
    drawn = finite[::step]
    x_range = (min(x for x, _ in finite), max(x for x, _ in finite))
    y_range = (min(y for _, y in finite), max(y for _, y in finite))
    points = " ".join(
        f"{_scale(x, x_range, WIDTH):.1f},{HEIGHT - _scale(y, y_range, HEIGHT):.1f}"
        for x, y in drawn
    )
    return ReadingPlot(points, x_label, y_label, x_range, y_range)


def _scale(value: float, span: tuple[float, float], size: float) -> float:
    low, high = span
    return size / 2 if high == low else (value - low) / (high - low) * size
