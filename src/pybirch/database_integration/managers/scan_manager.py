"""ScanManager: scan records from PyBirch settings and scans, and their life."""

from __future__ import annotations

from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration.serializers import (
    create_scan_from_pybirch,
    create_scan_from_settings,
)
from pybirch.scan.scan import Scan
from pybirch.scan.settings import ScanSettings


class ScanManager:
    """Bridges PyBirch scans and their database records."""

    def __init__(self, db: DatabaseService) -> None:
        self.db = db

    def create_scan(
        self,
        settings: ScanSettings,
        sample_id: int | None = None,
        queue_id: int | None = None,
        **fields: Any,
    ) -> ScanRecord:
        """A record for scan settings (status ``queued``); ``sample_id`` is the database id.

        Settings that cannot run are refused first (:class:`ScanDefinitionError`), so no
        record waits for ever for a scan that will never start.
        """
        settings.scan_tree.validate()
        fields.setdefault("total_points", settings.scan_tree.total_points())
        return create_scan_from_settings(
            self.db, settings, sample_id=sample_id, queue_id=queue_id, **fields
        )

    def create_scan_from_pybirch(self, scan: Scan, **fields: Any) -> ScanRecord:
        """A record for a PyBirch scan (settings, tree, sample, point count), once it is valid."""
        scan.settings.scan_tree.validate()
        return create_scan_from_pybirch(self.db, scan, **fields)

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
