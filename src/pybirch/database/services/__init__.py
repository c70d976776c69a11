"""The database services, one mixin per area, combined in :class:`DatabaseService`."""

from pybirch.database.services.data import DataPoint
from pybirch.database.services.paging import Page
from pybirch.database.services.service import DatabaseService

__all__ = ["DataPoint", "DatabaseService", "Page"]
