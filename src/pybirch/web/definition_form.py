"""What the definition editor's form shows: from a template, a stored definition, or a post.

The form keeps every value as the text its input holds, so a post that fails validation
comes back exactly as the user typed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pybirch.database.models import InstrumentDefinition
from pybirch.definitions.templates import DefinitionTemplate

#: The inputs of the form, in the order a post carries them.
INPUTS = (
    "name",
    "display_name",
    "description",
    "instrument_type",
    "category",
    "manufacturer",
    "data_columns",
    "data_units",
    "position_column",
    "position_units",
    "settings_schema",
    "default_settings",
    "visibility",
    "source_code",
    "change_summary",
)


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2)


def _names_text(values: list[str] | None) -> str:
    return ", ".join(values or [])


def from_template(template: DefinitionTemplate) -> dict[str, str]:
    """A new definition's form, filled from a template."""
    return {
        "name": template.name,
        "display_name": "",
        "description": "",
        "instrument_type": template.instrument_type,
        "category": template.category,
        "manufacturer": "",
        "data_columns": _names_text(template.data_columns),
        "data_units": _names_text(template.data_units),
        "position_column": "",
        "position_units": "",
        "settings_schema": _json_text(template.settings_schema),
        "default_settings": _json_text(template.default_settings),
        "visibility": "lab",
        "source_code": template.source_code,
        "change_summary": "",
    }


def from_definition(definition: InstrumentDefinition, source_code: str) -> dict[str, str]:
    """A stored definition's form, with its latest code."""
    return {
        "name": definition.name,
        "display_name": definition.display_name or "",
        "description": definition.description or "",
        "instrument_type": definition.instrument_type,
        "category": definition.category or "",
        "manufacturer": definition.manufacturer or "",
        "data_columns": _names_text(definition.data_columns),
        "data_units": _names_text(definition.data_units),
        "position_column": definition.position_column or "",
        "position_units": definition.position_units or "",
        "settings_schema": _json_text(definition.settings_schema),
        "default_settings": _json_text(definition.default_settings),
        "visibility": "public" if definition.is_public else "lab",
        "source_code": source_code,
        "change_summary": "",
    }


def from_post(form: Mapping[str, str]) -> dict[str, str]:
    """The form as it was posted, to show again with what went wrong."""
    return {key: form.get(key, "") for key in INPUTS}
