"""Projects and the samples measured in them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, Updated

if TYPE_CHECKING:
    from pybirch.database.models.accounts import Lab


class Project(Base, Updated):
    """A line of work in a lab; scans and samples belong to one."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("lab_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="RESTRICT"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    code: Mapped[str | None] = mapped_column(String(50), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    lab: Mapped[Lab | None] = relationship(back_populates="projects")
    samples: Mapped[list[Sample]] = relationship(back_populates="project")


class Sample(Base, Updated):
    """A physical sample; ``sample_id`` is the label scientists write on the box."""

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("lab_id", "sample_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="RESTRICT"), index=True, default=None
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True, default=None
    )
    sample_id: Mapped[str] = mapped_column(String(100), index=True)
    material: Mapped[str] = mapped_column(String(255), default="")
    additional_tags: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    #: The sample's picture as PNG bytes (see :mod:`pybirch.sample_images`).
    image_png: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    project: Mapped[Project | None] = relationship(back_populates="samples")
