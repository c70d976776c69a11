"""Declared instrument settings with validation.

A driver declares its settings once, with defaults and optionally a JSON schema::

    self._define_settings({"gain": 1.0, "averages": 10},
                          schema={"properties": {"gain": {"type": "number", "minimum": 0}}})

Each value is kept in the attribute ``_<name>`` (so ``self._gain`` inside the driver),
the same convention PyBirch drivers have always used. ``instrument.settings`` returns a
plain dict; assigning a dict to it validates every key and value before changing any.

Three optional hooks let a driver go further:

* ``_check_settings_impl(candidate)``: rules across settings (raise
  :class:`InvalidSettingError`); ``candidate`` is the full set of values after the change.
* ``_apply_settings_impl(values)``: send changed values to the hardware; it runs after
  validation and before anything is stored, so a value the instrument refuses is not kept.
* ``_settings_stored(values)``: update state derived from settings (columns, caches); it
  runs after every change, including the defaults and a reset.

Schemas are self-contained: a ``$ref`` may point only inside the schema (``#/...``).
Validation never reads a file or the network for a reference (a ``file://`` reference
would put the file's content into the error message); such schemas are refused when
declared, and the validator's registry refuses to retrieve anything should one slip by.
Setting names are identifiers that do not start with ``_`` and do not collide with the
instrument's own ``_`` attributes (a setting ``adapter`` would be kept in ``_adapter``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, NoReturn

import jsonschema
import referencing.exceptions
from referencing import Registry

from pybirch.instruments.errors import InvalidSettingError, UnknownSettingError


class SettingsMixin:
    """Settings declared with :meth:`_define_settings`, validated on every change."""

    name: str
    _settings_defaults: dict[str, Any]
    _settings_schema: dict[str, Any] | None

    def _define_settings(
        self, defaults: dict[str, Any], schema: dict[str, Any] | None = None
    ) -> None:
        """Declare settings, their defaults and an optional JSON schema.

        Calls add up: a subclass declares its own settings on top of its parent's.
        """
        merged_schema = _merge_schemas(
            getattr(self, "_settings_schema", None),
            _object_schema(schema) if schema is not None else None,
        )
        if merged_schema is not None:
            self._check_schema(merged_schema)
        for key in defaults:
            self._check_setting_name(key)
        self._settings_defaults = {**self._declared_defaults(), **copy.deepcopy(dict(defaults))}
        self._settings_schema = merged_schema
        self._validate_settings(self._settings_defaults, partial=False)
        self._store_settings(copy.deepcopy(self._settings_defaults))

    @property
    def settings(self) -> dict[str, Any]:
        """The current value of every declared setting."""
        return {key: getattr(self, f"_{key}") for key in self._declared_settings()}

    @settings.setter
    def settings(self, values: dict[str, Any]) -> None:
        self._validate_settings(values, partial=True)
        self._apply_settings_impl(values)
        self._store_settings(values)

    def _check_settings_impl(self, candidate: dict[str, Any]) -> None:
        """Override to check rules that span several settings."""

    def _apply_settings_impl(self, values: dict[str, Any]) -> None:
        """Override to send changed settings to the instrument; raise to refuse them."""

    def _settings_stored(self, values: dict[str, Any]) -> None:
        """Override to update state derived from settings after they change."""

    @property
    def settings_schema(self) -> dict[str, Any] | None:
        """The JSON schema settings are validated against, if one was declared."""
        return self._settings_schema

    @property
    def default_settings(self) -> dict[str, Any]:
        """The defaults given to :meth:`_define_settings`."""
        return copy.deepcopy(self._declared_defaults())

    def get_setting(self, key: str) -> Any:
        """One setting's current value."""
        if key not in self._declared_settings():
            raise self._unknown(key)
        return getattr(self, f"_{key}")

    def reset_settings(self) -> None:
        """Put every setting back to its declared default."""
        self._store_settings(copy.deepcopy(self._declared_defaults()))

    def _declared_defaults(self) -> dict[str, Any]:
        return getattr(self, "_settings_defaults", {})

    def _declared_settings(self) -> list[str]:
        return list(self._declared_defaults())

    def _validate_settings(self, values: dict[str, Any], *, partial: bool) -> None:
        if not isinstance(values, dict):
            raise InvalidSettingError(
                f"settings must be a dict, not {type(values).__name__}", self.name
            )
        declared = self._declared_defaults()
        for key in values:
            if key not in declared:
                raise self._unknown(key)
        candidate = {**self.settings, **values} if partial else dict(values)
        schema = getattr(self, "_settings_schema", None)
        if schema is not None:
            validator = jsonschema.Draft202012Validator(schema, registry=_LOCAL_ONLY)
            try:
                error = jsonschema.exceptions.best_match(validator.iter_errors(candidate))
            except referencing.exceptions.Unresolvable as exc:
                raise InvalidSettingError(
                    f"the settings schema refers to {exc.ref!r}, which cannot be resolved "
                    "within it",
                    self.name,
                ) from None
            if error is not None:
                where = ".".join(str(part) for part in error.absolute_path) or "settings"
                raise InvalidSettingError(f"invalid setting {where!r}: {error.message}", self.name)
        self._check_settings_impl(candidate)

    def _check_schema(self, schema: dict[str, Any]) -> None:
        for reference in nonlocal_references(schema):
            raise InvalidSettingError(
                f"the settings schema may refer only within itself ('#/...'), not to {reference!r}",
                self.name,
            )
        jsonschema.Draft202012Validator.check_schema(schema)

    def _check_setting_name(self, key: object) -> None:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidSettingError(
                f"setting names are identifiers that do not start with '_', not {key!r}",
                self.name,
            )
        storage = f"_{key}"
        if key not in self._declared_defaults() and (
            hasattr(type(self), storage) or storage in vars(self)
        ):
            raise InvalidSettingError(
                f"a setting cannot be named {key!r}: {storage} is the instrument's own attribute",
                self.name,
            )

    def _store_settings(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, f"_{key}", value)
        self._settings_stored(values)

    def _unknown(self, key: str) -> UnknownSettingError:
        known = ", ".join(sorted(self._declared_settings())) or "none"
        return UnknownSettingError(f"unknown setting {key!r} (known settings: {known})", self.name)


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Accept either a full object schema or just its ``properties`` mapping."""
    if "properties" in schema or schema.get("type") == "object":
        return {"type": "object", **schema}
    return {"type": "object", "properties": schema}


def _merge_schemas(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """Combine two object schemas: properties and required lists add up."""
    if old is None or new is None:
        return new if old is None else old
    return {
        **old,
        **new,
        "properties": {**old.get("properties", {}), **new.get("properties", {})},
        "required": sorted({*old.get("required", []), *new.get("required", [])}),
    }


#: JSON Schema keywords that load another document; only local ones ("#...") are allowed.
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def nonlocal_references(node: Any) -> Iterator[str]:
    """Every reference in a JSON document that points outside it."""
    if isinstance(node, dict):
        for key, value in node.items():
            local = isinstance(value, str) and value.startswith("#")
            if key in REFERENCE_KEYWORDS and not local:
                yield str(value)
            else:
                yield from nonlocal_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from nonlocal_references(item)


def _refuse_retrieval(uri: str) -> NoReturn:
    # jsonschema's default registry fetches http(s) and file references; settings never do
    raise referencing.exceptions.NoSuchResource(ref=uri)


_LOCAL_ONLY: Registry[Any] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]
