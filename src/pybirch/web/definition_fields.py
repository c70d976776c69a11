"""What a definition form or JSON body holds, turned into the library's keyword arguments.

The API takes JSON values as they are (validation judges them); the browser's form sends
text, so columns arrive comma-separated and the settings schema and defaults as JSON text.
Either way the code and its version's summary travel apart from the definition's fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pybirch.definitions import Problem

#: Fields stored as text on the definition.
TEXT_FIELDS = (
    "name",
    "display_name",
    "description",
    "category",
    "manufacturer",
    "position_column",
    "position_units",
)
#: Fields that are lists of names (a form sends them comma-separated).
LIST_FIELDS = ("data_columns", "data_units")
#: Fields that are JSON documents (a form sends them as JSON text).
DOCUMENT_FIELDS = ("settings_schema", "default_settings")
#: What belongs to the version rather than to the definition.
VERSION_FIELDS = ("source_code", "change_summary", "test_code", "sim_device")
#: Every key a body may hold (``base_class`` is accepted, but the code decides it).
ACCEPTED = frozenset(
    {*TEXT_FIELDS, *LIST_FIELDS, *DOCUMENT_FIELDS, *VERSION_FIELDS}
    | {"instrument_type", "is_public", "base_class", "lab_id"}
)


class BodyError(ValueError):
    """A request body that is not a definition: unknown keys or values of the wrong kind."""


@dataclass
class Submitted:
    """A submitted definition: its fields, its version's parts, and problems reading them."""

    fields: dict[str, Any] = field(default_factory=dict)
    version: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def from_json(body: Any) -> Submitted:
    """A JSON body's definition (BodyError if it is not an object of known keys)."""
    if not isinstance(body, dict):
        raise BodyError("send a JSON object with the definition's fields")
    unknown = sorted(set(body) - ACCEPTED)
    if unknown:
        raise BodyError(f"unknown field(s) {', '.join(unknown)}; accepted: {sorted(ACCEPTED)}")
    submitted = Submitted()
    for key, value in body.items():
        if key in ("base_class", "lab_id"):
            continue
        if key in (*TEXT_FIELDS, *VERSION_FIELDS, "instrument_type") and not (
            value is None or isinstance(value, str)
        ):
            raise BodyError(f"{key} must be text")
        if key == "is_public" and not isinstance(value, bool):
            raise BodyError("is_public must be true or false")
        (submitted.version if key in VERSION_FIELDS else submitted.fields)[key] = value
    return submitted


def from_form(form: Mapping[str, str]) -> Submitted:
    """A browser form's definition: text fields, columns and JSON documents as text."""
    submitted = Submitted()
    for key in TEXT_FIELDS:
        if key in form:
            submitted.fields[key] = form[key].strip() or None
    if submitted.fields.get("display_name") is None:
        submitted.fields.pop("display_name", None)
    if form.get("instrument_type"):
        submitted.fields["instrument_type"] = form["instrument_type"]
    for key in LIST_FIELDS:
        if key in form:
            submitted.fields[key] = _names(form[key])
    for key in DOCUMENT_FIELDS:
        if key in form:
            submitted.fields[key] = _document(form[key], key, submitted.problems)
    if "visibility" in form:
        submitted.fields["is_public"] = form["visibility"] == "public"
    if "source_code" in form:
        # browsers send CRLF line ends; the stored code keeps the editor's LF
        submitted.version["source_code"] = form["source_code"].replace("\r\n", "\n")
    if "change_summary" in form:
        submitted.version["change_summary"] = form["change_summary"].strip() or None
    return submitted


def _names(text: str) -> list[str] | None:
    """``"X, Y, R"`` as ``["X", "Y", "R"]``; None when empty."""
    return [name.strip() for name in text.split(",")] if text.strip() else None


def _document(text: str, key: str, problems: list[Problem]) -> Any:
    """JSON text as its value; None when empty; a problem when it is not JSON."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(f"not JSON: {exc.msg}", exc.lineno, exc.colno, field=key))
        return None
