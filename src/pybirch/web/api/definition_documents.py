"""Instrument definitions, their versions, audit rows and validation reports as JSON."""

from __future__ import annotations

from typing import Any

from pybirch.database.models import (
    InstrumentDefinition,
    InstrumentDefinitionAudit,
    InstrumentDefinitionVersion,
)
from pybirch.definitions import ValidationReport
from pybirch.web.api.serializers import iso


def origin(definition: InstrumentDefinition, lab_id: int) -> str:
    """``lab`` (the lab's own), ``public`` (another lab's, shared) or ``builtin``."""
    if definition.is_builtin:
        return "builtin"
    return "lab" if definition.lab_id == lab_id else "public"


def definition_summary(
    definition: InstrumentDefinition, latest: InstrumentDefinitionVersion, lab_id: int
) -> dict[str, Any]:
    """What a list of definitions shows of each; ``latest`` is its newest version."""
    return {
        "id": definition.id,
        "name": definition.name,
        "display_name": definition.display_name,
        "description": definition.description,
        "instrument_type": definition.instrument_type,
        "category": definition.category,
        "manufacturer": definition.manufacturer,
        "base_class": definition.base_class,
        "lab_id": definition.lab_id,
        "origin": origin(definition, lab_id),
        "is_public": definition.is_public,
        "is_builtin": definition.is_builtin,
        "version": definition.version,
        "approved_version": definition.approved_version,
        "status": latest.status,
        "updated_at": iso(definition.updated_at),
    }


def definition_document(
    definition: InstrumentDefinition,
    versions: list[InstrumentDefinitionVersion],
    lab_id: int,
    names: dict[int, str],
) -> dict[str, Any]:
    """A definition with its fields, its latest code and a summary of every version."""
    latest = versions[-1]
    return {
        **definition_summary(definition, latest, lab_id),
        "data_columns": definition.data_columns,
        "data_units": definition.data_units,
        "settings_schema": definition.settings_schema,
        "default_settings": definition.default_settings,
        "position_column": definition.position_column,
        "position_units": definition.position_units,
        "dependencies": definition.dependencies,
        "approved_code_hash": definition.approved_code_hash,
        "source_code": latest.source_code,
        "versions": [version_summary(version, names) for version in versions],
    }


def version_summary(version: InstrumentDefinitionVersion, names: dict[int, str]) -> dict[str, Any]:
    """One version without its code: status, author, time, summary, review and test."""
    return {
        "version": version.version,
        "status": version.status,
        "code_hash": version.code_hash,
        "change_summary": version.change_summary,
        "created_by": names.get(version.created_by_id) if version.created_by_id else None,
        "created_by_id": version.created_by_id,
        "created_at": iso(version.created_at),
        "approved_by": names.get(version.approved_by_id) if version.approved_by_id else None,
        "approved_at": iso(version.approved_at),
        "review_note": version.review_note,
        "test_result": version.test_result,
        "tested_at": iso(version.tested_at),
    }


def version_document(version: InstrumentDefinitionVersion, names: dict[int, str]) -> dict[str, Any]:
    """One version with its code, test and simulated device."""
    return {
        **version_summary(version, names),
        "source_code": version.source_code,
        "test_code": version.test_code,
        "sim_device": version.sim_device,
    }


def audit_document(row: InstrumentDefinitionAudit, names: dict[int, str]) -> dict[str, Any]:
    """One row of a definition's audit trail."""
    return {
        "action": row.action,
        "version": row.version,
        "comment": row.comment,
        "details": row.details,
        "created_by": names.get(row.created_by_id) if row.created_by_id else None,
        "created_at": iso(row.created_at),
    }


def report_document(report: ValidationReport) -> dict[str, Any]:
    """A validation report: ok, the problems with line and column, what the code defines."""
    return report.as_dict()
