"""Managers that bridge PyBirch objects and their database records."""

from pybirch.database_integration.managers.data_manager import DataManager
from pybirch.database_integration.managers.equipment_manager import EquipmentManager
from pybirch.database_integration.managers.queue_manager import QueueManager
from pybirch.database_integration.managers.scan_manager import ScanManager

__all__ = ["DataManager", "EquipmentManager", "QueueManager", "ScanManager"]
