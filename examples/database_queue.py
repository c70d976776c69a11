"""The seed plan's Phase 3 "Usage Example" of DatabaseQueue, run as written.

Only the import paths are adapted (``pybirch.database`` instead of ``database.services``),
the database path is a file in the current directory instead of ``'path/to/db.db'``, and
the project and sample ids are those of the records the set-up block makes. The set-up
block also builds the two scans the seed enqueues, on simulated instruments:

* ``scan1``: an I-V sweep, a current source stepped over 21 currents, a multimeter read;
* ``scan2``: a 2-D lock-in map, two stages over a 6 x 5 grid, a lock-in read.

Run it from any directory::

    python examples/database_queue.py

It writes ``pybirch_example.db`` (SQLite) in the current directory and prints what the
database holds afterwards.
"""

# The seed's imports follow the set-up block, in the seed's order.
# ruff: noqa: E402, I001

# --- set-up (not in the seed): a project, a sample and the two scans --------------------
import numpy as np

from pybirch.database import DatabaseService
from pybirch.database_integration import create_sample_from_pybirch
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakeStage,
    SimulatedSample,
)
from pybirch.queue import Sample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree

DATABASE = "pybirch_example.db"  # the seed writes 'path/to/db.db'

device = SimulatedSample()  # the simulated world every instrument below shares

source = FakeCurrentSource("Current Source", sample=device)
meter = FakeMultimeter("Multimeter", sample=device, include_current=True)
scan1 = Scan(
    ScanSettings(
        project_name="Example",
        scan_name="IV sweep",
        scan_type="1D Scan",
        job_type="Transport",
        scan_tree=ScanTree(
            [MovementItem(source, np.linspace(-1e-3, 1e-3, 21), children=[MeasurementItem(meter)])]
        ),
    )
)

stage_x = FakeStage("Stage X", axis="x", sample=device)
stage_y = FakeStage("Stage Y", axis="y", sample=device)
lockin = FakeLockin("Lock-in", sample=device)
scan2 = Scan(
    ScanSettings(
        project_name="Example",
        scan_name="Lock-in map",
        scan_type="2D Scan",
        job_type="Imaging",
        scan_tree=ScanTree(
            [
                MovementItem(
                    stage_y,
                    np.linspace(20.0, 40.0, 6),
                    children=[
                        MovementItem(
                            stage_x,
                            np.linspace(15.0, 35.0, 5),
                            children=[MeasurementItem(lockin)],
                        )
                    ],
                )
            ]
        ),
    )
)

with DatabaseService(DATABASE) as setup_db:
    project = setup_db.get_or_create_project("Example")
    stored_sample = setup_db.get_sample_by_id("EXAMPLE-001")
    if stored_sample is None:
        stored_sample = create_sample_from_pybirch(
            setup_db,
            Sample("EXAMPLE-001", material="Graphene on SiO2", additional_tags=["example"]),
            project_id=project.id,
        )
    project_id, sample_id = project.id, stored_sample.id
# --- end of set-up; the seed's code, unchanged but for the adaptations above ------------

from pybirch.database_integration import DatabaseQueue
from pybirch.database import DatabaseService

# Create a database-tracked queue
db = DatabaseService(DATABASE)  # the seed: DatabaseService('path/to/db.db')
queue = DatabaseQueue(
    QID="experiment_queue",
    db_service=db,
    project_id=project_id,  # the seed: project_id=1
    sample_id=sample_id,  # the seed: sample_id=1
    operator="researcher",
)

# Add scans - DatabaseExtension automatically added
queue.enqueue(scan1)  # Tracks in database
queue.enqueue(scan2)

# Execute - real-time database sync
queue.start()
queue.wait_for_completion()

# Recovery after crash
recovered = DatabaseQueue.from_database(db, "experiment_queue")
incomplete_scans = recovered.get_incomplete_scans()

# --- not in the seed: what the database holds now ---------------------------------------
record = db.get_queue_with_scans("experiment_queue")
print(
    f"Queue {record.queue_id}: {record.status}, "
    f"{record.completed_scans}/{record.total_scans} scans finished"
)
for scan in record.scans[-2:]:  # this run's two scans (earlier runs stay in the database)
    print(
        f"  {scan.scan_name}: {scan.status}, {db.get_data_point_count(scan.id)} of "
        f"{scan.total_points} points stored, sample {scan.sample_id}, operator {scan.operator}"
    )
print(f"Queue log entries stored: {len(db.get_queue_logs(record.id))}")
print(f"Incomplete scans after recovery: {len(incomplete_scans)}")
recovered.close()
queue.close()
db.close()
