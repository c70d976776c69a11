"""Projects and samples."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import undefer

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Project, Sample
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.paging import Page


class ProjectsMixin(ServiceCore):
    """CRUD and search for projects and samples."""

    def create_project(self, name: str, lab_id: int | None = None, **fields: Any) -> Project:
        """A new project in ``lab_id``."""
        return self._create(Project, name=name, lab_id=lab_id, **fields)

    def get_project(self, project_id: int) -> Project:
        """The project with this id."""
        return self._fetch(Project, project_id)

    def get_project_by_name(self, name: str, lab_id: int | None = None) -> Project | None:
        """The project called ``name`` (in ``lab_id`` if given), or None."""
        with self.session() as session:
            return session.scalar(
                self._filtered(Project, name=name, lab_id=lab_id).order_by(Project.id).limit(1)
            )

    def get_or_create_project(self, name: str, lab_id: int | None = None) -> Project:
        """The project called ``name``, created if new."""
        return self.get_project_by_name(name, lab_id) or self.create_project(name, lab_id)

    def update_project(self, project_id: int, **fields: Any) -> Project:
        """Change a project's fields."""
        return self._update(Project, project_id, **fields)

    def delete_project(self, project_id: int) -> None:
        """Delete a project; its scans and samples stay, without a project."""
        self._delete(Project, project_id)

    def search_projects(
        self,
        text: str | None = None,
        lab_id: int | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Project]:
        """Projects matching the filters, by name."""
        return self._search(
            self._filtered(Project, lab_id=lab_id, status=status).order_by(Project.name),
            text=text,
            text_columns=(Project.name, Project.code, Project.description),
            page=page,
            per_page=per_page,
        )

    def create_sample(self, sample_id: str, **fields: Any) -> Sample:
        """A new sample labelled ``sample_id``."""
        return self._create(Sample, sample_id=sample_id, **fields)

    def get_sample(self, sample_pk: int) -> Sample:
        """The sample with this database id (image loaded)."""
        with self.session() as session:
            sample = session.scalar(
                select(Sample).where(Sample.id == sample_pk).options(undefer(Sample.image_png))
            )
            if sample is None:
                raise NotFoundError("Sample", sample_pk)
            return sample

    def get_sample_by_id(self, sample_id: str, lab_id: int | None = None) -> Sample | None:
        """The sample labelled ``sample_id`` (in ``lab_id`` if given), image loaded, or None."""
        with self.session() as session:
            return session.scalar(
                self._filtered(Sample, sample_id=sample_id, lab_id=lab_id)
                .options(undefer(Sample.image_png))
                .order_by(Sample.id)
                .limit(1)
            )

    def update_sample(self, sample_pk: int, **fields: Any) -> Sample:
        """Change a sample's fields."""
        return self._update(Sample, sample_pk, **fields)

    def delete_sample(self, sample_pk: int) -> None:
        """Delete a sample; its scans stay, without a sample."""
        self._delete(Sample, sample_pk)

    def search_samples(
        self,
        text: str | None = None,
        lab_id: int | None = None,
        project_id: int | None = None,
        material: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[Sample]:
        """Samples matching the filters, newest first."""
        return self._search(
            self._filtered(
                Sample, lab_id=lab_id, project_id=project_id, material=material
            ).order_by(Sample.created_at.desc(), Sample.id.desc()),
            text=text,
            text_columns=(Sample.sample_id, Sample.material, Sample.description),
            page=page,
            per_page=per_page,
        )
