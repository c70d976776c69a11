"""Scan templates, queues, scans and their logs.

Status values are the strings of :class:`pybirch.scan.state.ScanState` and
:class:`pybirch.queue.state.QueueState`, plus ``interrupted`` for runs a crash cut short
(found and marked on restart) and ``completed``/``aborted`` for queues that finished.

A scan's definition (its tree, every position included) is a row of its own,
:class:`ScanDefinition`, written once: the ``scans`` row, which status and progress
updates change while the scan runs, stays small, and no update ever rewrites the tree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, BigId, Created, Updated, utcnow
from pybirch.database.models.projects import Project, Sample
from pybirch.database.packed_json import pack, unpack

#: Scan statuses that mean the scan may still produce data.
ACTIVE_SCAN_STATUSES = ("running", "paused")
#: Scan statuses of a scan that has not finished (queued included).
UNFINISHED_SCAN_STATUSES = ("queued", "running", "paused")
SCAN_STATUSES = ("queued", "running", "paused", "completed", "aborted", "failed", "interrupted")
QUEUE_STATUSES = ("idle", "running", "paused", "stopping", "completed", "aborted", "interrupted")


class ScanTemplate(Base, Updated):
    """Reusable scan settings (the tree and metadata of :class:`ScanSettings`)."""

    __tablename__ = "scan_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(255))
    scan_type: Mapped[str] = mapped_column(String(100), default="")
    job_type: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    #: ``ScanSettings.to_dict()``.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Queue(Base, Updated):
    """A queue of scans; ``queue_id`` is the QID PyBirch users give it."""

    __tablename__ = "queues"
    # A QID names a queue within its lab only: two labs may both have a "main" queue.
    __table_args__ = (UniqueConstraint("lab_id", "queue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[str] = mapped_column(String(100), index=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True, default=None
    )
    sample_id: Mapped[int | None] = mapped_column(
        ForeignKey("samples.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20), default="idle", index=True)
    execution_mode: Mapped[str] = mapped_column(String(20), default="serial")
    max_parallel_scans: Mapped[int] = mapped_column(default=1)
    operator: Mapped[str | None] = mapped_column(String(100), default=None)
    #: The computer that runs the queue (hostname).
    computer_name: Mapped[str | None] = mapped_column(String(255), default=None)
    total_scans: Mapped[int] = mapped_column(default=0)
    completed_scans: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    scans: Mapped[list[Scan]] = relationship(back_populates="queue", order_by="Scan.id")
    logs: Mapped[list[QueueLog]] = relationship(
        back_populates="queue", order_by="QueueLog.id", cascade="all, delete-orphan"
    )


class Scan(Base, Updated):
    """One run of a scan: what it measured, on what, by whom, and how it ended."""

    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_lab_status_created", "lab_id", "status", "created_at"),
        Index("ix_scans_lab_created", "lab_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public id (hex uuid) shared with the engine's :class:`ScanHandle`.
    scan_id: Mapped[str] = mapped_column(String(64), unique=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), default=None
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True, default=None
    )
    sample_id: Mapped[int | None] = mapped_column(
        ForeignKey("samples.id", ondelete="SET NULL"), index=True, default=None
    )
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("queues.id", ondelete="SET NULL"), index=True, default=None
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("scan_templates.id", ondelete="SET NULL"), default=None
    )
    project_name: Mapped[str] = mapped_column(String(255), default="")
    scan_name: Mapped[str] = mapped_column(String(255), index=True)
    scan_type: Mapped[str] = mapped_column(String(100), default="")
    job_type: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    operator: Mapped[str | None] = mapped_column(String(100), default=None)
    computer_name: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Each instrument's ``serialize()`` once connected and configured, with its driver.
    instrument_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Driver of each instrument: class path and version (package or stored definition).
    driver_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total_points: Mapped[int] = mapped_column(BigInteger, default=0)
    points_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: extensions, user_fields, additional_tags of the settings, and anything else.
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What the scientist wrote about the scan (editable on its page).
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    #: Short labels to find the scan by (``["calibration", "sample B"]``).
    tags: Mapped[list[str]] = mapped_column(default=list)

    queue: Mapped[Queue | None] = relationship(back_populates="scans")
    sample: Mapped[Sample | None] = relationship()
    project: Mapped[Project | None] = relationship()
    logs: Mapped[list[ScanLog]] = relationship(
        back_populates="scan", order_by="ScanLog.id", cascade="all, delete-orphan"
    )
    #: What the scan runs; loaded on request (``get_scan(with_settings=True)``).
    definition: Mapped[ScanDefinition | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def scan_tree_data(self) -> dict[str, Any]:
        """``ScanTree.to_dict()`` of the scan as run (JSON-able: positions as numbers)."""
        if self.definition is None:
            return {}
        return self.definition.scan_tree(as_lists=True)

    @scan_tree_data.setter
    def scan_tree_data(self, tree: dict[str, Any]) -> None:
        if self.definition is None:
            self.definition = ScanDefinition()
        self.definition.set_scan_tree(tree)


class ScanDefinition(Base):
    """A scan's tree, apart from its ``scans`` row: written when the scan is created.

    Positions are compact: an evenly spaced axis is ``start/stop/count`` in the tree
    (``ScanTree.to_dict`` writes it so); any other axis is float64 bytes in ``positions``,
    referenced from the tree (see :mod:`pybirch.database.packed_json`).
    """

    __tablename__ = "scan_definitions"

    scan_id: Mapped[int] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``ScanTree.to_dict(arrays=True)``, its arrays replaced by references into ``positions``.
    tree: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Little-endian float64 positions of the axes that are not evenly spaced, or None.
    positions: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    def __repr__(self) -> str:
        return f"<ScanDefinition scan_id={self.scan_id}>"

    def set_scan_tree(self, tree: dict[str, Any]) -> None:
        """Store ``tree``, its numpy arrays as bytes beside it."""
        self.tree, self.positions = pack(tree)

    def scan_tree(self, *, as_lists: bool = False) -> dict[str, Any]:
        """The tree as stored: arrays as read-only numpy arrays, or as lists (JSON-able)."""
        return unpack(self.tree, self.positions, as_lists=as_lists)


class ScanLog(Base):
    """A log message about one scan."""

    __tablename__ = "scan_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)

    scan: Mapped[Scan] = relationship(back_populates="logs")


class QueueLog(Base, Created):
    """A log message of a queue; ``scan_id`` is the public id of the scan it is about."""

    __tablename__ = "queue_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), index=True)
    scan_id: Mapped[str | None] = mapped_column(String(64), default=None)
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)

    queue: Mapped[Queue] = relationship(back_populates="logs")
