"""Projects and the samples measured in them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, Updated

if TYPE_CHECKING:
    from pybirch.database.models.accounts import Lab
    from pybirch.queue.samples import Sample as PyBirchSample


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
    #: The sample's picture as PNG bytes.
    image_png: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    project: Mapped[Project | None] = relationship(back_populates="samples")

    def to_pybirch_sample(self) -> PyBirchSample:
        """This sample as a :class:`pybirch.queue.samples.Sample` (image included)."""
        from pybirch.queue.samples import Sample as PyBirchSample
        from pybirch.queue.samples import decode_png

        image = None if self.image_png is None else decode_png(self.image_png, self.sample_id)
        return PyBirchSample(
            ID=self.sample_id,
            material=self.material or "",
            additional_tags=list(self.additional_tags or []),
            image=image,
        )

    @classmethod
    def from_pybirch_sample(cls, pybirch_sample: PyBirchSample, **fields: Any) -> Sample:
        """A new row for ``pybirch_sample``; ``fields`` sets the other columns (lab_id...)."""
        pybirch_sample.validate()
        sample = cls(**fields)
        sample.update_from_pybirch_sample(pybirch_sample)
        return sample

    def update_from_pybirch_sample(self, pybirch_sample: PyBirchSample) -> None:
        """Copy ID, material, tags and image from a PyBirch sample."""
        from pybirch.queue.samples import encode_png

        pybirch_sample.validate()
        self.sample_id = pybirch_sample.ID
        self.material = pybirch_sample.material
        self.additional_tags = list(pybirch_sample.additional_tags)
        image = pybirch_sample.image
        self.image_png = None if image is None else encode_png(image)
