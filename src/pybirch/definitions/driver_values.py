"""Values a stored driver sets that PyBirch's own code reads back, and how they are checked.

The scan engine, storage and the web read a driver's ``name``, ``data_columns``,
``data_units``, position column and units, ``limits`` and ``status``, and call
``serialize()``, ``columns()``, ``settings``... A stored driver may set the values
(each assignment goes through :func:`checked_driver_value`, which refuses what is not the
expected type or is absurdly large, and coerces the rest: columns become a numpy array of
text), but it may not redefine the members themselves in its class body
(:data:`SEALED_MEMBERS`, checked by :func:`check_sealed_members`): a ``name`` property or
an overridden ``serialize`` would hand PyBirch values no assignment check ever saw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pybirch.definitions.errors import SandboxViolation
from pybirch.instruments.confinement import STORED_MODULE_PREFIX

#: Longest text a driver may give as its name, a column, a unit.
MAX_TEXT = 200
#: Most data columns a driver may declare.
MAX_COLUMNS = 1000

#: Members PyBirch reads or calls that a stored class body may not define.
SEALED_MEMBERS = frozenset(
    {
        "kind",
        "identification",
        "adapter",
        "backend",
        "instrument",
        "name",
        "status",
        "data_columns",
        "data_units",
        "position_column",
        "position_units",
        "limits",
        "resource_key",
        "serialize",
        "columns",
        "position_label",
        "check_positions",
        "settings",
        "settings_schema",
        "default_settings",
        "get_setting",
        "measurement_df",
        "connect_or_raise",
        "check_connection",
        "timeout_ms",
        "read_termination",
        "write_termination",
    }
)

#: Attributes a stored driver may never assign: PyBirch's own code sets them.
READ_ONLY = frozenset({"kind", "identification", "adapter", "backend", "instrument"})


def is_stored_object(obj: object) -> bool:
    """Whether ``obj`` is an instance of a class stored code defined."""
    return type(obj).__module__.startswith(STORED_MODULE_PREFIX)


def check_sealed_members(cls: type) -> None:
    """Refuse a stored class (or stored base of it) whose body redefines a sealed member."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith(STORED_MODULE_PREFIX):
            continue
        sealed = sorted(SEALED_MEMBERS & set(vars(klass)))
        if sealed:
            raise SandboxViolation(
                f"{klass.__name__} may not define {', '.join(sealed)}: PyBirch sets or reads "
                "these itself; assign the values in __init__ instead"
            )


def checked_driver_value(target: object, name: str, value: Any) -> Any:
    """The value to store for ``target.name = value`` from stored code, or refuse it."""
    if name in READ_ONLY:
        raise SandboxViolation(
            f"stored instrument code cannot set {name!r}: it comes from the binding or the "
            "base class"
        )
    check = _CHECKS.get(name)
    return value if check is None else check(name, value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise SandboxViolation(f"{name} must be text of at most {MAX_TEXT} characters")
    return str(value)


def _texts(name: str, value: Any) -> np.ndarray:
    try:
        items = list(value) if len(value) <= MAX_COLUMNS else None
    except TypeError:
        items = None
    if items is None or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in items):
        raise SandboxViolation(
            f"{name} must be a list of at most {MAX_COLUMNS} texts of at most {MAX_TEXT} characters"
        )
    return np.array([str(v) for v in items], dtype=str)


def _limits(name: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise SandboxViolation(f"{name} must be None or (lowest, highest) finite numbers")
    return low, high


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise SandboxViolation(f"{name} must be True or False")
    return bool(value)


_CHECKS = {
    "name": _text,
    "position_column": _text,
    "position_units": _text,
    "data_columns": _texts,
    "data_units": _texts,
    "limits": _limits,
    "status": _flag,
}
