"""ScanManager: scan records from PyBirch settings and scans, and their life."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.models import Scan as ScanRecord
from pybirch.database.services.equipment_care import OverdueInstrument
from pybirch.database_integration.overdue_instruments import (
    WARNINGS_KEY,
    OverdueInstrumentError,
    warning_documents,
)
from pybirch.database_integration.serializers import (
    create_scan_from_pybirch,
    create_scan_from_settings,
)
from pybirch.scan.scan import Scan
from pybirch.scan.settings import ScanSettings


class ScanManager:
    """Bridges PyBirch scans and their database records."""

    def __init__(self, db: DatabaseService, today: Callable[[], date] = date.today) -> None:
        self.db = db
        #: The lab's calendar day, for calibration and maintenance due dates.
        self.today = today

    def create_scan(
        self,
        settings: ScanSettings,
        sample_id: int | None = None,
        queue_id: int | None = None,
        *,
        computer_id: int | None = None,
        **fields: Any,
    ) -> ScanRecord:
        """A record for scan settings (status ``queued``); ``sample_id`` is the database id.

        Settings that cannot run are refused first (:class:`ScanDefinitionError`), so no
        record waits for ever for a scan that will never start; so are scans on overdue
        instruments in a lab that blocks them (:class:`OverdueInstrumentError`).
        """
        settings.scan_tree.validate()
        overdue = self.check_instruments(settings, fields.get("lab_id"), computer_id)
        fields.setdefault("total_points", settings.scan_tree.total_points())
        record = create_scan_from_settings(
            self.db, settings, sample_id=sample_id, queue_id=queue_id, **fields
        )
        return self.record_instrument_warnings(record, overdue)

    def create_scan_from_pybirch(
        self, scan: Scan, *, computer_id: int | None = None, **fields: Any
    ) -> ScanRecord:
        """A record for a PyBirch scan (settings, tree, sample, point count), once it is valid.

        ``computer_id`` is the computer it runs on: its instruments are the ones checked
        for overdue calibration or maintenance (see :meth:`check_instruments`).
        """
        scan.settings.scan_tree.validate()
        overdue = self.check_instruments(scan.settings, fields.get("lab_id"), computer_id)
        return self.record_instrument_warnings(
            create_scan_from_pybirch(self.db, scan, **fields), overdue
        )

    def check_instruments(
        self, settings: ScanSettings, lab_id: int | None, computer_id: int | None = None
    ) -> list[OverdueInstrument]:
        """The scan's overdue instruments; OverdueInstrumentError if its lab blocks them.

        Instruments are matched by name on ``computer_id`` when it is known, else among
        every instrument of that name in the lab.
        """
        names = [instrument.name for instrument in settings.scan_tree.instruments()]
        overdue = self.db.overdue_instruments(lab_id, names, self.today(), computer_id=computer_id)
        if overdue and self.db.blocks_overdue_scans(lab_id):
            raise OverdueInstrumentError(overdue)
        return overdue

    def record_instrument_warnings(
        self, record: ScanRecord, overdue: list[OverdueInstrument]
    ) -> ScanRecord:
        """Write on the scan's record, and in its log, which instruments are overdue."""
        if not overdue:
            return record
        for item in overdue:
            self.db.add_scan_log(record.id, "WARNING", item.describe())
        extra = {**(record.extra_data or {}), WARNINGS_KEY: warning_documents(overdue)}
        return self.db.update_scan(record.id, extra_data=extra)

    def get_scan(self, scan_id: int | str) -> ScanRecord:
        """The record by database id or public id."""
        return self.db.get_scan(scan_id)

    def start_scan(self, scan_id: int) -> ScanRecord:
        """Mark a scan running."""
        return self.db.update_scan_status(scan_id, "running")

    def pause_scan(self, scan_id: int) -> ScanRecord:
        """Mark a scan paused."""
        return self.db.update_scan_status(scan_id, "paused")

    def complete_scan(self, scan_id: int) -> ScanRecord:
        """Mark a scan completed."""
        return self.db.update_scan_status(scan_id, "completed")

    def abort_scan(self, scan_id: int) -> ScanRecord:
        """Mark a scan aborted."""
        return self.db.update_scan_status(scan_id, "aborted")

    def fail_scan(self, scan_id: int, error: BaseException | str) -> ScanRecord:
        """Mark a scan failed with its error."""
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return self.db.update_scan_status(scan_id, "failed", error_message=message)

    def get_scans_for_queue(self, queue_id: int) -> list[ScanRecord]:
        """Every scan record of a queue, oldest first."""
        return self.db.get_queue_with_scans(queue_id).scans

    def rebuild_settings(self, record: ScanRecord) -> ScanSettings:
        """The :class:`ScanSettings` a record was made from (instruments rebuilt)."""
        extra = record.extra_data or {}
        # Positions as stored arrays: a long irregular axis never becomes a list here.
        tree = record.definition.scan_tree() if record.definition is not None else {}
        return ScanSettings.from_dict(
            {
                "project_name": record.project_name,
                "scan_name": record.scan_name,
                "scan_type": record.scan_type,
                "job_type": record.job_type,
                "scan_tree": tree,
                "extensions": extra.get("extensions", []),
                "additional_tags": extra.get("additional_tags", []),
                "user_fields": extra.get("user_fields", {}),
            }
        )
