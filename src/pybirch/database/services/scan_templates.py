"""Scan templates: designs a lab keeps to start new scans from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pybirch.database.errors import DuplicateError, NotFoundError
from pybirch.database.models import ScanTemplate
from pybirch.database.services.core import ServiceCore


class ScanTemplatesMixin(ServiceCore):
    """Create, list, read and delete a lab's scan templates (names unique within a lab)."""

    def create_scan_template(
        self, lab_id: int, name: str, settings: dict[str, Any], **fields: Any
    ) -> ScanTemplate:
        """A new template of ``lab_id``; DuplicateError if the lab has one of that name."""
        with self.session() as session:
            # no unique index on (lab_id, name) in the seed's table: the check is here, in the
            # same transaction as the insert
            taken = session.scalar(
                select(func.count())
                .select_from(ScanTemplate)
                .where(ScanTemplate.lab_id == lab_id, ScanTemplate.name == name)
            )
            if taken:
                raise DuplicateError(f"a template named {name!r} exists in this lab")
            template = ScanTemplate(lab_id=lab_id, name=name, settings=settings, **fields)
            session.add(template)
            session.flush()
            return template

    def get_scan_template(self, template_id: int, lab_id: int | None = None) -> ScanTemplate:
        """The template with this id; NotFoundError if it is not one of ``lab_id``'s."""
        template = self._fetch(ScanTemplate, template_id)
        if lab_id is not None and template.lab_id != lab_id:
            raise NotFoundError("ScanTemplate", template_id)  # another lab's is not there
        return template

    def list_scan_templates(self, lab_id: int) -> list[ScanTemplate]:
        """The lab's templates, by name."""
        with self.session() as session:
            return list(
                session.scalars(
                    self._filtered(ScanTemplate, lab_id=lab_id).order_by(
                        ScanTemplate.name, ScanTemplate.id
                    )
                )
            )

    def delete_scan_template(self, template_id: int, lab_id: int | None = None) -> None:
        """Delete a template (of ``lab_id``, if given); scans made from it keep their design."""
        with self.session() as session:
            template = self._get(session, ScanTemplate, template_id)
            if lab_id is not None and template.lab_id != lab_id:
                raise NotFoundError("ScanTemplate", template_id)
            session.delete(template)
