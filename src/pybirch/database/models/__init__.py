"""The PyBirch schema: SQLAlchemy 2 typed models of every table."""

from pybirch.database.models.accounts import ApiToken, Lab, LabMembership, Role, User
from pybirch.database.models.base import Base, utcnow
from pybirch.database.models.definitions import (
    Computer,
    ComputerBinding,
    InstrumentDefinition,
    InstrumentDefinitionAudit,
    InstrumentDefinitionVersion,
)
from pybirch.database.models.equipment_care import Calibration, MaintenanceEntry
from pybirch.database.models.identity import DatabaseIdentity
from pybirch.database.models.instrument_actions import InstrumentAction
from pybirch.database.models.instruments import Equipment, Instrument, InstrumentStatus
from pybirch.database.models.measurements import (
    Analysis,
    AnalysisResult,
    MeasurementChunk,
    MeasurementObject,
)
from pybirch.database.models.projects import Project, Sample
from pybirch.database.models.scans import (
    Queue,
    QueueLog,
    Scan,
    ScanDefinition,
    ScanLog,
    ScanTemplate,
)

__all__ = [
    "Analysis",
    "AnalysisResult",
    "ApiToken",
    "Base",
    "Calibration",
    "Computer",
    "ComputerBinding",
    "DatabaseIdentity",
    "Equipment",
    "Instrument",
    "InstrumentAction",
    "InstrumentDefinition",
    "InstrumentDefinitionAudit",
    "InstrumentDefinitionVersion",
    "InstrumentStatus",
    "Lab",
    "LabMembership",
    "MaintenanceEntry",
    "MeasurementChunk",
    "MeasurementObject",
    "Project",
    "Queue",
    "QueueLog",
    "Role",
    "Sample",
    "Scan",
    "ScanDefinition",
    "ScanLog",
    "ScanTemplate",
    "User",
    "utcnow",
]
