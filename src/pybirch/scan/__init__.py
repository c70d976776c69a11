"""Scans: what to measure (the tree), the engine that measures it, and its extensions."""

from pybirch.scan.axis import Linspace
from pybirch.scan.batch import POINT_INDEX_COLUMN, TIMESTAMP_COLUMN, DataBatch
from pybirch.scan.errors import ExtensionError, ScanDefinitionError, ScanError, ScanStateError
from pybirch.scan.extension import ScanExtension
from pybirch.scan.scan import Scan
from pybirch.scan.settings import ScanSettings
from pybirch.scan.state import ScanState
from pybirch.scan.tree import MeasurementItem, MovementItem, ScanTree

__all__ = [
    "POINT_INDEX_COLUMN",
    "TIMESTAMP_COLUMN",
    "DataBatch",
    "ExtensionError",
    "Linspace",
    "MeasurementItem",
    "MovementItem",
    "Scan",
    "ScanDefinitionError",
    "ScanError",
    "ScanExtension",
    "ScanSettings",
    "ScanState",
    "ScanStateError",
    "ScanTree",
]
