"""How long finished scans took per reading, by the instruments they used."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from pybirch.database.models import Scan
from pybirch.database.services.core import ServiceCore


@dataclass(frozen=True)
class ScanTiming:
    """A completed scan's pace: seconds per reading, and the instruments it used."""

    scan_id: str
    scan_name: str
    instruments: frozenset[str]
    seconds_per_reading: float


class ScanTimingsMixin(ServiceCore):
    """Paces of recent completed scans, for estimating how long a new one will take."""

    def recent_scan_timings(self, lab_id: int, limit: int = 200) -> list[ScanTiming]:
        """The pace of the lab's latest completed scans, newest first, one per instrument set."""
        statement = (
            select(
                Scan.scan_id,
                Scan.scan_name,
                Scan.instrument_settings,
                Scan.points_done,
                Scan.started_at,
                Scan.completed_at,
            )
            .where(
                Scan.lab_id == lab_id,
                Scan.status == "completed",
                Scan.points_done > 0,
                Scan.started_at.is_not(None),
                Scan.completed_at.is_not(None),
            )
            .order_by(Scan.completed_at.desc(), Scan.id.desc())
            .limit(limit)
        )
        timings: dict[frozenset[str], ScanTiming] = {}
        with self.session() as session:
            for scan_id, name, settings, done, started, completed in session.execute(statement):
                instruments = frozenset((settings or {}).keys())
                seconds = (completed - started).total_seconds()
                if not instruments or instruments in timings or seconds < 0:
                    continue
                timings[instruments] = ScanTiming(scan_id, name, instruments, seconds / done)
        return list(timings.values())
