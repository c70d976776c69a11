"""What the API's routes accept, in one place: the routes and the OpenAPI document use it."""

from __future__ import annotations

#: Most rows one data request returns; ask again from ``next_start`` for more.
MAX_ROWS = 100_000
#: Records a page of a lab's scans or queues holds unless ``per_page`` says otherwise.
DEFAULT_PER_PAGE = 50
#: Points of a line plot sent at least, at most and by default.
MIN_LINE_POINTS, MAX_LINE_POINTS, DEFAULT_LINE_POINTS = 10, 20_000, 2_000
#: The kinds of plot.
PLOT_KINDS = ("line", "grid", "spectrum")
#: Where an instrument definition a lab sees comes from: its own, another lab's public, builtin.
ORIGINS = ("lab", "public", "builtin")
#: The review states of a definition's version.
VERSION_STATUSES = ("pending", "approved", "rejected", "superseded")
