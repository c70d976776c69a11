"""Builders shared by the database tests: PyBirch objects to store, and row counts."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from pybirch.database import DatabaseService
from pybirch.database.models import Base
from pybirch.instruments.simulated import FakeLockin, FakeStage
from pybirch.queue.samples import Sample as PyBirchSample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree


def line_scan(
    scan_name: str = "Line scan",
    project_name: str = "Graphene",
    points: int = 11,
    sample: PyBirchSample | None = None,
    **settings: object,
) -> Scan:
    """A 1-D PyBirch scan: a simulated stage moved over ``points`` positions, a lock-in read."""
    stage = FakeStage("X stage", axis="x")
    lockin = FakeLockin("Lock-in")
    tree = ScanTree(
        [MovementItem(stage, np.linspace(0.0, 10.0, points), children=[MeasurementItem(lockin)])]
    )
    return Scan(ScanSettings(project_name, scan_name, scan_tree=tree, **settings), sample=sample)


def rgb_image(height: int = 6, width: int = 9, seed: int = 0) -> np.ndarray:
    """A random 8-bit RGB picture (every pixel different enough to catch a lossy codec)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def pybirch_sample(
    sample_id: str = "S-001", material: str = "MoS2", image: np.ndarray | None = None
) -> PyBirchSample:
    """A PyBirch sample with two tags and the given image."""
    return PyBirchSample(sample_id, material, ["flake", "exfoliated"], image)


def count_rows(db: DatabaseService, model: type[Base]) -> int:
    """How many rows ``model``'s table holds in ``db``."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
