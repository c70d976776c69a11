"""The REST API under ``/api/v1`` (and the seed plan's ``/api/...`` routes).

One blueprint; each module adds its routes to it: reading (routes), control, plots,
instrument definitions, a scan's live state and notes.
"""

from pybirch.web.api import (  # noqa: F401  (they add their routes)
    control,
    definitions,
    equipment_care,
    instruments,
    plots,
    scan_live,
    scan_notes,
)
from pybirch.web.api.routes import blueprint

__all__ = ["blueprint"]
