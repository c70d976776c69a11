"""The scan extension and queue that keep a run in the database."""

from pybirch.database_integration.extensions.database_extension import DatabaseExtension
from pybirch.database_integration.extensions.database_queue import DatabaseQueue

__all__ = ["DatabaseExtension", "DatabaseQueue"]
