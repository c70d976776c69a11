"""A small lab on simulated instruments: an I-V sweep and a 2-D lock-in map.

Every instrument shares one :class:`SimulatedSample`, so the I-V curve is the device's
and the map shows its spots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
from pybirch.database_integration.lab_choice import lab_for_queue
from pybirch.extensions import CsvWriterExtension
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakeStage,
    SimulatedSample,
)
from pybirch.queue import Queue
from pybirch.queue.samples import Sample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree


@dataclass
class DemoLab:
    """The demo queue and the scans in it."""

    queue: Queue
    scans: list[Scan]
    csv: list[CsvWriterExtension]
    #: Public id of each scan's database record (empty without a database).
    scan_ids: list[str] = field(default_factory=list)
    #: Database id of the lab the scans are stored in (None: no lab, or no database).
    lab_id: int | None = None


def iv_sweep(sample: SimulatedSample, points: int, delay: float) -> ScanSettings:
    """A 1-D current sweep reading the device voltage."""
    source = FakeCurrentSource("Current Source", sample=sample, delay=delay)
    meter = FakeMultimeter("Multimeter", sample=sample, include_current=True, noise=2e-6)
    currents = np.linspace(-2e-3, 2e-3, points)
    return ScanSettings(
        project_name="Demo",
        scan_name="IV sweep",
        scan_type="1D Scan",
        job_type="Transport",
        scan_tree=ScanTree([MovementItem(source, currents, children=[MeasurementItem(meter)])]),
        additional_tags=["demo"],
    )


def lockin_map(sample: SimulatedSample, side: int, delay: float) -> ScanSettings:
    """A 2-D raster of two stages reading a lock-in, snaking along x."""
    stage_x = FakeStage("Stage X", axis="x", sample=sample, delay=delay)
    stage_y = FakeStage("Stage Y", axis="y", sample=sample)
    lockin = FakeLockin("Lock-in", sample=sample)
    axis = np.linspace(0.0, 100.0, side)
    tree = ScanTree(
        [
            MovementItem(
                stage_y,
                axis,
                children=[
                    MovementItem(stage_x, axis, snake=True, children=[MeasurementItem(lockin)]),
                ],
            ),
        ]
    )
    return ScanSettings(
        project_name="Demo",
        scan_name="Lock-in map",
        scan_type="2D Scan",
        job_type="Imaging",
        scan_tree=tree,
        additional_tags=["demo"],
    )


def build_demo_lab(
    output: Path,
    fast: bool = False,
    db: DatabaseService | None = None,
    lab: int | str | None = None,
) -> DemoLab:
    """The demo queue: an I-V sweep then a lock-in map, each writing CSV files to ``output``.

    With ``db`` the queue is a :class:`DatabaseQueue`: every point is also stored there, in
    ``lab`` (a name or id; by default the embedded database's default lab).
    """
    sample = SimulatedSample()
    delay = 0.0 if fast else 0.01
    specimen = Sample("DEMO-001", material="Graphene on SiO2", additional_tags=["demo"])
    settings = [
        iv_sweep(sample, points=101, delay=delay),
        lockin_map(sample, side=31 if not fast else 11, delay=delay / 4),
    ]
    csv = [CsvWriterExtension(output) for _ in settings]
    scans = [
        Scan(each, sample=specimen, extensions=[writer])
        for each, writer in zip(settings, csv, strict=True)
    ]
    lab_id = None
    if db is None:
        queue: Queue = Queue("demo")
    else:
        lab_id = lab_for_queue(db, lab, create=True)  # a lab the web UI will show
        project = db.get_or_create_project("Demo", lab_id)
        queue = DatabaseQueue("demo", db, project_id=project.id, operator="demo", lab_id=lab_id)
    handles = [queue.enqueue(scan) for scan in scans]
    scan_ids = [handle.scan_id for handle in handles] if db is not None else []
    return DemoLab(queue, scans, csv, scan_ids, lab_id)
