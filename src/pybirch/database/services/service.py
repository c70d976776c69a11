"""DatabaseService: every read and write PyBirch makes, on one engine of its own."""

from __future__ import annotations

from pybirch.database.services.accounts import AccountsMixin
from pybirch.database.services.bindings import BindingsMixin
from pybirch.database.services.computers import ComputerServices
from pybirch.database.services.data import DataMixin
from pybirch.database.services.definition_review import DefinitionReviewMixin
from pybirch.database.services.definitions import DefinitionsMixin
from pybirch.database.services.equipment_care import EquipmentCareMixin
from pybirch.database.services.identity import IdentityMixin
from pybirch.database.services.instrument_actions import InstrumentActionsMixin
from pybirch.database.services.instruments import InstrumentsMixin
from pybirch.database.services.projects import ProjectsMixin
from pybirch.database.services.queues import QueuesMixin
from pybirch.database.services.scan_templates import ScanTemplatesMixin
from pybirch.database.services.scan_timings import ScanTimingsMixin
from pybirch.database.services.scans import ScansMixin


class DatabaseService(
    AccountsMixin,
    ProjectsMixin,
    ScansMixin,
    ScanTemplatesMixin,
    ScanTimingsMixin,
    QueuesMixin,
    InstrumentsMixin,
    InstrumentActionsMixin,
    EquipmentCareMixin,
    ComputerServices,
    BindingsMixin,
    DefinitionsMixin,
    DefinitionReviewMixin,
    DataMixin,
    IdentityMixin,
):
    """The database of one lab or one computer.

    ``DatabaseService(url_or_path)`` takes a SQLAlchemy URL (``sqlite:///...``,
    ``postgresql://...``), a path to a SQLite file, or None for ``DATABASE_URL`` / the
    default file. An embedded SQLite database is migrated on start; a PostgreSQL one must
    be current (``pybirch db upgrade``) unless ``auto_upgrade=True``.

    Every method runs in its own transaction and returns plain model objects that stay
    readable after it returns.
    """
