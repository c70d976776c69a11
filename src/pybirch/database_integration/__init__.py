"""Bridges from the engine (scans, queues, instruments) to the database.

``DatabaseQueue`` and ``DatabaseExtension`` record scans as they run; the managers and the
serializers (``create_sample_from_pybirch``, ``to_pybirch_sample``...) turn PyBirch objects
into records and back; ``DataManager`` stores batches through the spool.
"""

from pybirch.database_integration.extensions import DatabaseExtension, DatabaseQueue
from pybirch.database_integration.lab_choice import NO_LAB, default_lab
from pybirch.database_integration.managers import (
    DataManager,
    EquipmentManager,
    QueueManager,
    ScanManager,
)
from pybirch.database_integration.overdue_instruments import OverdueInstrumentError
from pybirch.database_integration.serializers import (
    create_queue_from_pybirch,
    create_sample_from_pybirch,
    create_scan_from_pybirch,
    create_scan_from_settings,
    to_pybirch_sample,
    update_sample_from_pybirch,
)

__all__ = [
    "NO_LAB",
    "DataManager",
    "DatabaseExtension",
    "DatabaseQueue",
    "EquipmentManager",
    "OverdueInstrumentError",
    "QueueManager",
    "ScanManager",
    "create_queue_from_pybirch",
    "create_sample_from_pybirch",
    "create_scan_from_pybirch",
    "create_scan_from_settings",
    "default_lab",
    "to_pybirch_sample",
    "update_sample_from_pybirch",
]
