"""DatabaseExtension: a scan's life and every one of its points, recorded in the database."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pybirch.database import DatabaseService
from pybirch.database.errors import DatabaseError
from pybirch.database_integration.managers.data_manager import DataManager
from pybirch.database_integration.serializers import driver_versions
from pybirch.scan.extension import ScanExtension

if TYPE_CHECKING:
    from pybirch.scan.batch import DataBatch, MeasurementColumns
    from pybirch.scan.journal import PointJournal
    from pybirch.scan.scan import Scan

log = logging.getLogger(__name__)


class DatabaseExtension(ScanExtension):
    """Records status (running, paused, completed, aborted, failed) and data of one scan.

    ``scan_id`` is the database id of the scan's record (see ``ScanManager.create_scan``).
    Batches go through a :class:`DataManager` (spooled, then committed by its writer);
    when the scan ends the extension waits until its data is committed, so a finished
    scan in the database has all its points. Pass ``data_manager`` to share one between
    scans (``DatabaseQueue`` does); otherwise the extension makes and closes its own.
    """

    critical = True

    def __init__(
        self, db_service: DatabaseService, scan_id: int, data_manager: DataManager | None = None
    ) -> None:
        self.db = db_service
        self.scan_id = scan_id
        self._data = data_manager
        self._owns_data = data_manager is None
        self._scan: Scan | None = None
        self._delivered: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<DatabaseExtension scan_id={self.scan_id} {self.db.url}>"

    @property
    def data_manager(self) -> DataManager:
        """The manager that stores this scan's batches (made on first use)."""
        if self._data is None:
            self._data = DataManager(self.db)
        return self._data

    def set_scan_reference(self, scan: Scan) -> None:
        self._scan = scan

    def startup(self) -> None:
        scan = self._require_scan()
        self._status(
            "running",
            instrument_settings=scan.instrument_snapshot,
            driver_versions=driver_versions(scan.instruments()),
            total_points=scan.total_points,
        )

    def point_recorder(self, columns: MeasurementColumns) -> PointJournal:
        # Every point is journaled as measured, so a killed process loses none.
        return self.data_manager.open_journal(self.scan_id, columns)

    def save_batch(self, batch: DataBatch) -> None:
        scan = self._require_scan()
        # Progress counts the points delivered to the database, not those still buffered.
        self._delivered[batch.measurement_name] = batch.first_point + batch.point_count
        delivered = sum(self._delivered.values())
        progress = delivered / scan.total_points if scan.total_points else 0.0
        self.data_manager.write_batch(self.scan_id, batch, delivered, progress)

    def on_pause(self) -> None:
        self._status("paused")

    def on_resume(self) -> None:
        self._status("running")

    def on_complete(self) -> None:
        scan = self._require_scan()
        self._status("completed", points_done=scan.points_done)
        self._wait_for_commit()

    def on_abort(self) -> None:
        scan = self._require_scan()
        self._status("aborted", points_done=scan.points_done, progress=scan.progress)
        self._wait_for_commit()

    def on_error(self, exc: BaseException) -> None:
        scan = self._scan
        self._status(
            "failed",
            error_message=f"{type(exc).__name__}: {exc}",
            traceback=None if scan is None else scan.traceback,
            points_done=0 if scan is None else scan.points_done,
            progress=0.0 if scan is None else scan.progress,
        )
        self._wait_for_commit(raise_errors=False)

    def shutdown(self) -> None:
        if self._owns_data and self._data is not None:
            self._data.close()
            self._data = None

    def _status(self, status: str, **fields: Any) -> None:
        self.data_manager.call(
            f"recording scan {self.scan_id} as {status}",
            self.db.record_scan_status,
            self.scan_id,
            status,
            scan_id=self.scan_id,
            **fields,
        )

    def _wait_for_commit(self, raise_errors: bool = True) -> None:
        manager = self.data_manager
        if not manager.flush(manager.commit_wait):
            log.error(
                "scan %d: the database did not accept its data within %.0f s; the data "
                "stays in the spool (%s) and is stored when the database is back",
                self.scan_id,
                manager.commit_wait,
                manager.spool_directory,
            )
            return
        errors = manager.errors_for(self.scan_id)
        if errors and raise_errors:
            raise DatabaseError(
                f"scan {self.scan_id}: {len(errors)} database write(s) failed; first: {errors[0]}"
            ) from errors[0]

    def _require_scan(self) -> Scan:
        if self._scan is None:
            raise DatabaseError("DatabaseExtension used before set_scan_reference()")
        return self._scan
