"""Persistence: the schema, engines, measurement-data storage and DatabaseService.

This package knows rows, arrays and dicts; it never imports the scan engine's runtime
(scans, queues, extensions). :mod:`pybirch.database_integration` bridges the two.
"""

from pybirch.database.config import data_dir, default_database_url
from pybirch.database.errors import (
    DatabaseError,
    DataIntegrityError,
    DuplicateError,
    NotFoundError,
    SchemaError,
    StorageError,
)
from pybirch.database.services import DatabaseService, DataPoint, Page
from pybirch.database.storage import Layout, MeasurementData

__all__ = [
    "DataIntegrityError",
    "DataPoint",
    "DatabaseError",
    "DatabaseService",
    "DuplicateError",
    "Layout",
    "MeasurementData",
    "NotFoundError",
    "Page",
    "SchemaError",
    "StorageError",
    "data_dir",
    "default_database_url",
]
