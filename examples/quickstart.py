"""The seed plan's Appendix B "Quick Start Code Example", run as written.

Only the import paths are adapted to the package layout (``pybirch.database`` instead of
``database.services``), and the stored sample becomes a PyBirch one through
``to_pybirch_sample(sample)`` (storage knows rows only). The seed expects the sample
``SAMPLE-001`` to exist; the set-up block below creates it when it is missing. Run it
from any directory::

    python examples/quickstart.py

Like the seed, it writes ``pybirch.db`` (SQLite) in the current directory. Its scan
settings have no scan tree, so the scan completes at once with no point recorded.
"""

# The seed's imports follow the set-up block, in the seed's order.
# ruff: noqa: I001

# --- set-up (not in the seed): the sample the seed looks up, created if missing ---------
from pybirch.database import DatabaseService
from pybirch.database_integration import create_sample_from_pybirch, to_pybirch_sample
from pybirch.queue import Sample

with DatabaseService("sqlite:///pybirch.db") as setup_db:
    if setup_db.get_sample_by_id("SAMPLE-001") is None:
        create_sample_from_pybirch(
            setup_db,
            Sample("SAMPLE-001", material="Graphene on SiO2", additional_tags=["quickstart"]),
        )
# --- end of set-up; the seed's code, unchanged but for the import paths and the sample ---

# Example: Running a scan with database integration

from pybirch.scan.scan import Scan, ScanSettings
from pybirch.database_integration.extensions import DatabaseExtension
from pybirch.database_integration.managers import ScanManager
from pybirch.database import DatabaseService

# Initialize database
db = DatabaseService("sqlite:///pybirch.db")

# Get or create sample
sample = db.get_sample_by_id("SAMPLE-001")
pybirch_sample = to_pybirch_sample(sample)

# Create scan settings
settings = ScanSettings(
    project_name="MyProject",
    scan_name="IV_Curve",
    scan_type="1D Scan",
    job_type="Transport",
)

# Create scan with database extension
scan_manager = ScanManager(db)
db_scan = scan_manager.create_scan(settings, sample_id=sample.id)

# Create PyBirch scan with database extension
db_extension = DatabaseExtension(db, db_scan.id)
pybirch_scan = Scan(settings, pybirch_sample, extensions=[db_extension])

# Execute - data automatically syncs to database
pybirch_scan.startup()
pybirch_scan.execute()

# Scan completion automatically recorded in database
print(f"Scan completed: {db_scan.scan_id}")
print(f"Data points recorded: {db.get_data_point_count(db_scan.id)}")
