"""Bridges from the engine (scans, queues, instruments) to the database.

``DatabaseQueue`` and ``DatabaseExtension`` record scans as they run; the managers turn
PyBirch objects into records and back; ``DataManager`` stores batches through the spool.
"""

from pybirch.database_integration.extensions import DatabaseExtension, DatabaseQueue
from pybirch.database_integration.managers import (
    DataManager,
    EquipmentManager,
    QueueManager,
    ScanManager,
)

__all__ = [
    "DataManager",
    "DatabaseExtension",
    "DatabaseQueue",
    "EquipmentManager",
    "QueueManager",
    "ScanManager",
]
