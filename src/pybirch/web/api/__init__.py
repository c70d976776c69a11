"""The REST API under ``/api/v1`` (and the seed plan's ``/api/...`` routes).

One blueprint; each module adds its routes to it: reading (routes), control, plots,
instrument definitions.
"""

from pybirch.web.api import control, definitions, plots  # noqa: F401  (they add their routes)
from pybirch.web.api.routes import blueprint

__all__ = ["blueprint"]
