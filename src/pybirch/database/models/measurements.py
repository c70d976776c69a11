"""Measurement objects, their data as columnar chunks, and analyses of scans.

A :class:`MeasurementObject` is one measurement of a scan (one ``MeasurementItem``):
its columns with units and kinds. Its data is stored as :class:`MeasurementChunk` rows,
one per flushed batch, each holding every column of a run of consecutive rows,
compressed (see :mod:`pybirch.database.storage.codec`). A chunk is keyed by its
measurement and first row, so storing the same batch twice stores it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, BigId, Created, utcnow
from pybirch.database.models.scans import Scan


class MeasurementObject(Base, Created):
    """One measurement of a scan: its name, instrument and column layout."""

    __tablename__ = "measurement_objects"
    __table_args__ = (UniqueConstraint("scan_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    instrument_name: Mapped[str | None] = mapped_column(String(255), default=None)
    instrument_id: Mapped[int | None] = mapped_column(
        ForeignKey("instruments.id", ondelete="SET NULL"), default=None
    )
    #: Column layout: ``[{"name", "unit", "label", "kind", "dtype"}, ...]`` where kind is
    #: ``data`` (a value per row), ``position`` or ``timestamp`` (a value per point).
    columns: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    #: Shape of every point's data rows when all points have the same (a spectrum: [1024]).
    point_shape: Mapped[list[int] | None] = mapped_column(default=None)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    scan: Mapped[Scan] = relationship()
    chunks: Mapped[list[MeasurementChunk]] = relationship(
        back_populates="measurement_object",
        order_by="MeasurementChunk.first_row",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def data_columns(self) -> list[str]:
        """Labels of the columns with a value per row."""
        return [c["label"] for c in self.columns if c["kind"] == "data"]

    @property
    def unit(self) -> list[str]:
        """Units of the data columns (the seed's ``MeasurementObject.unit``)."""
        return [c.get("unit", "") for c in self.columns if c["kind"] == "data"]


class MeasurementChunk(Base):
    """Consecutive rows of one measurement, every column compressed into one payload."""

    __tablename__ = "measurement_chunks"
    __table_args__ = (UniqueConstraint("measurement_object_id", "first_row"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    measurement_object_id: Mapped[int] = mapped_column(
        ForeignKey("measurement_objects.id", ondelete="CASCADE")
    )
    first_row: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column()
    first_point: Mapped[int] = mapped_column(BigInteger)
    point_count: Mapped[int] = mapped_column()
    #: Rows of every point when they are all equal; None when they vary (then stored).
    rows_per_point: Mapped[int | None] = mapped_column(default=None)
    codec: Mapped[str] = mapped_column(String(20))
    #: Byte length of each column's frame in ``payload``, in the layout's order.
    frame_sizes: Mapped[list[int]] = mapped_column()
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    measurement_object: Mapped[MeasurementObject] = relationship(back_populates="chunks")


class Analysis(Base, Created):
    """An analysis run on a scan's data (a fit, a map, a peak search)."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    scan_id: Mapped[int | None] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(255))
    analysis_type: Mapped[str] = mapped_column(String(100), default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    results: Mapped[list[AnalysisResult]] = relationship(
        back_populates="analysis", cascade="all, delete-orphan"
    )


class AnalysisResult(Base):
    """One named result of an analysis: a number with its unit, or a JSON document."""

    __tablename__ = "analysis_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    uncertainty: Mapped[float | None] = mapped_column(Float, default=None)
    unit: Mapped[str | None] = mapped_column(String(50), default=None)
    data: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    analysis: Mapped[Analysis] = relationship(back_populates="results")
