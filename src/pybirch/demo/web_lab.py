"""The demo lab a fresh ``pybirch serve --demo`` opens: finished scans and a live queue."""

from __future__ import annotations

import numpy as np

from pybirch.database import DatabaseService
from pybirch.database_integration import (
    DatabaseQueue,
    EquipmentManager,
    create_sample_from_pybirch,
)
from pybirch.demo.lab import iv_sweep, lockin_map
from pybirch.instruments.base import Instrument
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakeStage,
    SimulatedSample,
)
from pybirch.queue.samples import Sample
from pybirch.scan import Scan
from pybirch.station import Station

DEMO_PROJECT = "Demo"
DEMO_SAMPLE = "DEMO-001"
LIVE_QUEUE = "demo-live"


def demo_sample() -> Sample:
    """The demo sample, with a picture (a soft gradient with two flakes)."""
    y, x = np.mgrid[0:120, 0:160]
    red = 150 + 60 * np.exp(-((x - 55) ** 2 + (y - 60) ** 2) / 500)
    green = 170 + 40 * np.exp(-((x - 115) ** 2 + (y - 40) ** 2) / 300)
    blue = 200 - 0.3 * y
    image = np.clip(np.dstack([red, green, blue]), 0, 255).astype(np.uint8)
    return Sample(DEMO_SAMPLE, "Graphene on SiO2", ["demo"], image)


def seed_demo_lab(db: DatabaseService, lab_id: int) -> None:
    """Fill an empty lab: project, sample, instruments and two finished scans."""
    project = db.get_project_by_name(DEMO_PROJECT, lab_id) or db.create_project(
        DEMO_PROJECT, lab_id, description="Simulated instruments on a simulated device"
    )
    sample = demo_sample()
    if db.get_sample_by_id(DEMO_SAMPLE, lab_id) is None:
        create_sample_from_pybirch(db, sample, lab_id=lab_id, project_id=project.id)
    device = SimulatedSample()
    settings = [iv_sweep(device, points=201, delay=0.0), lockin_map(device, side=41, delay=0.0)]
    queue = DatabaseQueue("demo-history", db, project.id, operator="demo", lab_id=lab_id)
    for each in settings:
        queue.enqueue(Scan(each, sample))
    queue.start()
    queue.wait_for_completion()
    queue.close()
    equipment = EquipmentManager(db, lab_id)
    for each in settings:
        for instrument in each.scan_tree.instruments():
            record = equipment.register(instrument)
            equipment.update_status(record.id, "connected", instrument)


def live_demo_queue(db: DatabaseService, lab_id: int) -> DatabaseQueue:
    """A queue with a 2-D lock-in map waiting to be started from the browser."""
    project = db.get_or_create_project(DEMO_PROJECT, lab_id)
    return DatabaseQueue(LIVE_QUEUE, db, project.id, operator="demo", lab_id=lab_id)


def open_live_demo(station: Station, lab_id: int) -> None:
    """The demo's live queue on the station, with its map waiting (once: a restart keeps it)."""
    if any(summary.name == LIVE_QUEUE for summary in station.queues(lab_id)):
        return  # taken back from the last run, with its map queued again
    project = station.db.get_or_create_project(DEMO_PROJECT, lab_id)
    enqueue_live_demo(station.open_queue(lab_id, LIVE_QUEUE, "demo", project.id))


def enqueue_live_demo(queue: DatabaseQueue) -> None:
    """Queue the slow 2-D map (about a minute) that shows the live heatmap grow."""
    device = SimulatedSample()
    queue.enqueue(Scan(lockin_map(device, side=41, delay=0.02), demo_sample()))


def demo_instrument_specs(delay: float = 0.005) -> list[tuple[type[Instrument], str, dict]]:
    """The demo's simulated instruments: driver class, name and settings (also its options)."""
    return [
        (FakeStage, "Stage X", {"axis": "x", "delay": delay}),
        (FakeStage, "Stage Y", {"axis": "y"}),
        (FakeLockin, "Lock-in", {}),
        (FakeCurrentSource, "Current Source", {"delay": delay}),
        (FakeMultimeter, "Multimeter", {"include_current": True}),
    ]


def demo_instruments(delay: float = 0.005) -> list[Instrument]:
    """Simulated instruments on one device, for scans built in the browser."""
    device = SimulatedSample()
    return [
        cls(name, sample=device, **options)  # type: ignore[call-arg]
        for cls, name, options in demo_instrument_specs(delay)
    ]


def bind_demo_instruments(
    db: DatabaseService, lab_id: int, computer_id: int, delay: float = 0.005
) -> None:
    """Bind the demo's simulated instruments to a computer, as a lab would bind its own.

    Only those not bound yet: settings changed since are the computer's to keep.
    """
    bound = {b["instrument"]["name"] for b in db.get_computer_bindings(computer_id=computer_id)}
    for cls, name, settings in demo_instrument_specs(delay):
        if name in bound:
            continue
        described = {
            "name": name,
            "instrument_type": cls.kind,
            "pybirch_class": f"{cls.__module__}:{cls.__qualname__}",
            "adapter": None,
            "last_settings": settings,
        }
        record = db.register_instrument_on_computer(described, lab_id, computer_id)
        # Made with them (a stage's axis names its position column) and set up with them.
        db.bind_instrument_to_computer(
            record.id, computer_id=computer_id, options=settings, last_settings=settings
        )
