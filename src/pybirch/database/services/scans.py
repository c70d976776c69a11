"""Scans: records, their status, logs and search."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, exists, func, literal, select, update
from sqlalchemy.orm import defer, lazyload, raiseload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from pybirch.database.errors import DatabaseError, NotFoundError
from pybirch.database.models import Project, Sample, Scan, ScanLog, utcnow
from pybirch.database.models.base import UTCDateTime
from pybirch.database.models.scans import ACTIVE_SCAN_STATUSES, SCAN_STATUSES
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.paging import Page

#: Statuses after which a scan produces no more data.
FINISHED_STATUSES = ("completed", "aborted", "failed", "interrupted")
#: Longest notes a scan keeps (a lab notebook page, not a data file).
MAX_NOTES_LENGTH = 20_000
#: Most tags on one scan, and the longest tag.
MAX_TAGS = 32
MAX_TAG_LENGTH = 64
#: Columns too big to load for a list of scans (the tree is a row of its own).
HEAVY_SCAN_COLUMNS = (
    Scan.instrument_settings,
    Scan.driver_versions,
    Scan.traceback,
    Scan.extra_data,
)


def scan_loading(with_settings: bool, *, raise_on_access: bool = True) -> list[LoaderOption]:
    """Loader options for scans: with their settings, or without what grows with their size.

    Without settings, reading a left-out attribute raises (``raise_on_access``) instead of
    loading it, so a page never loads a long scan's definition by accident.
    """
    if with_settings:
        return [selectinload(Scan.definition)]
    if not raise_on_access:
        return [lazyload(Scan.definition), *(defer(column) for column in HEAVY_SCAN_COLUMNS)]
    return [
        raiseload(Scan.definition),
        *(defer(column, raiseload=True) for column in HEAVY_SCAN_COLUMNS),
    ]


class ScansMixin(ServiceCore):
    """Create, follow and find scans."""

    def create_scan(self, scan_name: str, **fields: Any) -> Scan:
        """A new scan record (status ``queued``); ``scan_id`` is generated if not given."""
        fields.setdefault("scan_id", uuid.uuid4().hex)
        fields.setdefault("computer_name", socket.gethostname())
        with self.session() as session:
            if fields.get("project_id") is None and fields.get("project_name"):
                fields["project_id"] = session.scalar(
                    self._filtered(
                        Project, name=fields["project_name"], lab_id=fields.get("lab_id")
                    )
                    .with_only_columns(Project.id)
                    .limit(1)
                )
            scan = Scan(scan_name=scan_name, **fields)
            session.add(scan)
            session.flush()
            return scan

    def get_scan(self, scan_id: int | str, *, with_settings: bool = True) -> Scan:
        """The scan with this database id (int) or public ``scan_id`` (str).

        ``with_settings=False`` leaves out the columns that grow with the scan (its tree
        with every position, the instrument snapshot, the traceback): reading one of them
        then raises instead of loading it.
        """
        key = Scan.id if isinstance(scan_id, int) else Scan.scan_id
        statement = select(Scan).where(key == scan_id).options(*scan_loading(with_settings))
        with self.session() as session:
            scan = session.scalar(statement)
            if scan is None:
                raise NotFoundError("Scan", scan_id)
            return scan

    def scan_ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Public ids of scans that start with ``prefix`` (hex digits), at most ``limit``.

        For commands that take an id printed shortened; any other character matches none.
        """
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef-" for c in prefix):
            return []
        statement = (
            select(Scan.scan_id)
            .where(Scan.scan_id.startswith(prefix, autoescape=True))
            .order_by(Scan.scan_id)
            .limit(limit)
        )
        with self.session() as session:
            return list(session.scalars(statement))

    def update_scan(self, scan_id: int, **fields: Any) -> Scan:
        """Change a scan's fields."""
        if "status" in fields:
            _check_status(fields["status"])
        return self._update(Scan, scan_id, **fields)

    def update_scan_status(self, scan_id: int, status: str, **fields: Any) -> Scan:
        """Set the status (and ``fields``); start and end times are filled when first reached."""
        self.record_scan_status(scan_id, status, **fields)
        return self.get_scan(scan_id)

    def record_scan_status(self, scan_id: int, status: str, **fields: Any) -> None:
        """:meth:`update_scan_status` in one UPDATE, without reading the scan back."""
        _check_status(status)
        unknown = sorted(name for name in fields if not hasattr(Scan, name))
        if unknown:
            raise DatabaseError(f"Scan has no field(s) {unknown}")
        now = literal(utcnow(), UTCDateTime())
        values: dict[str, Any] = {"updated_at": now, **fields, "status": status}
        if status in ACTIVE_SCAN_STATUSES:
            values["started_at"] = func.coalesce(Scan.started_at, values.get("started_at", now))
        if status in FINISHED_STATUSES:
            values["completed_at"] = func.coalesce(
                Scan.completed_at, values.get("completed_at", now)
            )
        if status == "completed":
            values["progress"] = 1.0
        with self.session() as session:
            result = session.execute(update(Scan).where(Scan.id == scan_id).values(**values))
            if result.rowcount == 0:
                raise NotFoundError("Scan", scan_id)

    def update_scan_notes(
        self,
        scan_id: int | str,
        *,
        lab_id: int,
        notes: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> Scan:
        """Change a scan's notes and/or tags (None leaves one as it is), in ``lab_id`` only.

        Tags are trimmed, blank ones dropped and repeats (in any case) kept once, in the
        order given. A scan of another lab is :class:`NotFoundError`, as a missing one;
        notes or tags over the limits are :class:`ScanNotesError`.
        """
        fields: dict[str, Any] = {}
        if notes is not None:
            fields["notes"] = _clean_notes(notes)
        if tags is not None:
            fields["tags"] = clean_tags(tags)
        key = Scan.id if isinstance(scan_id, int) else Scan.scan_id
        with self.session() as session:
            scan = session.scalar(select(Scan).where(key == scan_id).options(*scan_loading(False)))
            if scan is None or scan.lab_id != lab_id:
                raise NotFoundError("Scan", scan_id)
            for name, value in fields.items():
                setattr(scan, name, value)
            return scan

    def get_active_scans(self, lab_id: int | None = None) -> list[Scan]:
        """Every scan running or paused (in ``lab_id`` if given), oldest first."""
        statement = (
            self._filtered(Scan, lab_id=lab_id)
            .where(Scan.status.in_(ACTIVE_SCAN_STATUSES))
            .order_by(Scan.id)
        )
        with self.session() as session:
            return list(session.scalars(statement))

    def delete_scan(self, scan_id: int) -> None:
        """Delete a scan with its data and logs."""
        self._delete(Scan, scan_id)

    def search_scans(
        self,
        text: str | None = None,
        *,
        lab_id: int | None = None,
        status: str | Iterable[str] | None = None,
        project_id: int | None = None,
        sample_id: int | None = None,
        queue_id: int | None = None,
        operator: str | None = None,
        scan_type: str | None = None,
        tag: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Scan]:
        """Scans matching every given filter, newest first, without their big columns.

        ``text`` is found in the name, project, type, notes or any tag; ``tag`` must be one
        of the scan's tags (in any case).
        """
        statement = self._filtered(
            Scan,
            lab_id=lab_id,
            project_id=project_id,
            sample_id=sample_id,
            queue_id=queue_id,
            operator=operator,
            scan_type=scan_type,
        ).options(*scan_loading(False, raise_on_access=False))
        if isinstance(status, str):
            statement = statement.where(Scan.status == status)
        elif status is not None:
            statement = statement.where(Scan.status.in_(list(status)))
        if tag is not None and tag.strip():
            value = self._tag_values()
            statement = statement.where(
                exists(
                    select(1)
                    .select_from(value.table)
                    .where(func.lower(value) == tag.strip().lower())
                )
            )
        if since is not None:
            statement = statement.where(Scan.created_at >= since)
        if until is not None:
            statement = statement.where(Scan.created_at < until)
        return self._search(
            statement.order_by(Scan.created_at.desc(), Scan.id.desc()),
            text=text,
            text_columns=(
                Scan.scan_name,
                Scan.project_name,
                Scan.scan_type,
                Scan.job_type,
                Scan.notes,
                self._all_tags(),
            ),
            page=page,
            per_page=per_page,
        )

    def scan_tags(self, lab_id: int, limit: int = 500) -> list[str]:
        """The distinct tags of the lab's scans, alphabetically (for a tag filter's choices)."""
        value = self._tag_values()
        statement = (
            select(value)
            .select_from(Scan)
            .join(value.table, literal(True))
            .where(Scan.lab_id == lab_id)
            .distinct()
            .order_by(value)
            .limit(limit)
        )
        with self.session() as session:
            return [str(tag) for tag in session.scalars(statement)]

    def _tag_values(self) -> Any:
        """Each tag of the scan in the enclosing query, as a correlated table of ``value``."""
        elements = (
            func.jsonb_array_elements_text(Scan.tags)
            if self.dialect == "postgresql"
            else func.json_each(Scan.tags)
        )
        return elements.table_valued("value").c.value

    def _all_tags(self) -> ColumnElement[str]:
        """The scan's tags joined by spaces (searched like a column), or NULL if none."""
        value = self._tag_values()
        joined = (
            func.string_agg(value, " ")
            if self.dialect == "postgresql"
            else func.group_concat(value, " ")
        )
        return select(cast(joined, Text)).select_from(value.table).scalar_subquery()

    def get_scans_for_sample(self, sample_pk: int) -> list[Scan]:
        """Every scan of a sample, oldest first."""
        with self.session() as session:
            self._get(session, Sample, sample_pk)
            return list(
                session.scalars(select(Scan).where(Scan.sample_id == sample_pk).order_by(Scan.id))
            )

    def add_scan_log(
        self, scan_id: int, level: str, message: str, timestamp: datetime | None = None
    ) -> ScanLog:
        """Append a log message to a scan."""
        return self._create(
            ScanLog, scan_id=scan_id, level=level, message=message, timestamp=timestamp or utcnow()
        )

    def get_scan_logs(self, scan_id: int, after_id: int = 0, limit: int = 1000) -> list[ScanLog]:
        """A scan's log messages after ``after_id``, oldest first."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(ScanLog)
                    .where(ScanLog.scan_id == scan_id, ScanLog.id > after_id)
                    .order_by(ScanLog.id)
                    .limit(limit)
                )
            )


class ScanNotesError(DatabaseError, ValueError):
    """Notes or tags a scan cannot keep (too long, too many); the message says which."""


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, inner spaces collapsed, blanks dropped, repeats (any case) kept once."""
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        tag = " ".join(str(raw).split())
        if not tag or tag.lower() in seen:
            continue
        if not tag.isprintable():  # PostgreSQL cannot keep a NUL, and no label needs one
            raise ScanNotesError(f"a tag cannot contain control characters: {tag[:20]!r}")
        if len(tag) > MAX_TAG_LENGTH:
            raise ScanNotesError(f"a tag has at most {MAX_TAG_LENGTH} characters: {tag[:20]!r}...")
        seen.add(tag.lower())
        cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ScanNotesError(f"a scan has at most {MAX_TAGS} tags, not {len(cleaned)}")
    return cleaned


def _clean_notes(notes: str) -> str | None:
    text = notes.replace("\r\n", "\n").strip()
    if "\x00" in text:  # PostgreSQL text cannot hold it
        raise ScanNotesError("notes cannot contain a NUL character")
    if len(text) > MAX_NOTES_LENGTH:
        raise ScanNotesError(
            f"notes have at most {MAX_NOTES_LENGTH:,} characters, not {len(text):,}"
        )
    return text or None


def _check_status(status: str) -> None:
    if status not in SCAN_STATUSES:
        raise DatabaseError(f"unknown scan status {status!r}; use one of {SCAN_STATUSES}")
