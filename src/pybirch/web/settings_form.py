"""Inputs for a definition's settings, generated from its JSON Schema and default settings.

Each property of the schema becomes one input: a number (with its minimum, maximum and
step), a whole number, a check box, a choice of its ``enum`` values, or text; its value is
the default setting, else the schema's ``default``. Submitted text is read back into
values of the property's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SettingInput:
    """One input of the settings form."""

    name: str
    #: ``number``, ``integer``, ``checkbox``, ``select`` or ``text``.
    kind: str
    value: Any
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[Any, ...] = ()

    @property
    def label(self) -> str:
        """The setting's name as words: ``time_constant`` as ``Time constant``."""
        return self.name.replace("_", " ").capitalize()

    @property
    def text(self) -> str:
        """The value as an input shows it."""
        return "" if self.value is None else str(self.value)


def settings_inputs(schema: Any, defaults: Any) -> list[SettingInput]:
    """The inputs for every property of ``schema``, then for defaults it does not describe."""
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    values = defaults if isinstance(defaults, dict) else {}
    inputs = [
        _input(name, spec if isinstance(spec, dict) else {}, values)
        for name, spec in properties.items()
    ]
    inputs += [_input(name, {}, values) for name in values if name not in properties]
    return inputs


def _input(name: str, spec: dict[str, Any], values: Mapping[str, Any]) -> SettingInput:
    value = values.get(name, spec.get("default"))
    kind = spec.get("type") or _type_of(value)
    described = spec.get("description") or spec.get("title") or ""
    if isinstance(spec.get("enum"), list):
        return SettingInput(name, "select", value, described, options=tuple(spec["enum"]))
    if kind in ("number", "integer"):
        return SettingInput(name, kind, value, described, spec.get("minimum"), spec.get("maximum"))
    if kind == "boolean":
        return SettingInput(name, "checkbox", bool(value), described)
    return SettingInput(name, "text", value, described)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def read_settings(inputs: list[SettingInput], form: Mapping[str, str]) -> dict[str, Any]:
    """The submitted values, typed as the inputs say (ValueError for a number that is not)."""
    values: dict[str, Any] = {}
    for each in inputs:
        key = f"setting-{each.name}"
        if each.kind == "checkbox":
            values[each.name] = key in form
            continue
        text = (form.get(key) or "").strip()
        if each.kind == "select":
            chosen = next((o for o in each.options if str(o) == text), None)
            if chosen is None:
                raise ValueError(f"{each.label}: choose one of the listed values")
            values[each.name] = chosen
        elif each.kind in ("number", "integer"):
            try:
                values[each.name] = int(text) if each.kind == "integer" else float(text)
            except ValueError:
                raise ValueError(f"{each.label}: {text!r} is not a {each.kind}") from None
        else:
            values[each.name] = text
    return values
