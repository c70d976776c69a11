"""What a driver module says about its instrument classes, read from its code without running it.

A stored definition's code is a whole module (imports and helpers included), so a driver
file on disk becomes a definition as it is. :func:`read_driver_module` parses a file and
finds the classes that derive from an allowed PyBirch base class; for each,
:class:`DriverClass` gives the definition fields its code states literally: the name, the
kind of instrument (from the base class), data columns and units, the position column and
units, the default settings. Nothing in the file is imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybirch.definitions.base_classes import BASE_CLASSES
from pybirch.definitions.validation import Problem

#: ``self.<attribute> = <literal>`` assignments that become definition fields as they are.
_LITERAL_ATTRIBUTES = ("data_columns", "data_units", "position_column", "position_units")


@dataclass(frozen=True)
class DriverClass:
    """A class of a driver module that derives from an allowed base class."""

    name: str
    #: 1-based line of the ``class`` statement.
    line: int
    base_class: str
    #: Definition fields stated literally by the code (``instrument_type``, columns, ...).
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def instrument_type(self) -> str:
        """``measurement`` or ``movement``, from the base class."""
        return str(self.fields["instrument_type"])


@dataclass(frozen=True)
class DriverModule:
    """A driver file: its code, its driver classes, or why it cannot be parsed."""

    path: Path
    source_code: str
    classes: list[DriverClass]
    #: Set when the file cannot be read or parsed; then ``classes`` is empty.
    problem: Problem | None = None


def read_driver_module(path: Path) -> DriverModule:
    """Parse ``path`` and describe its driver classes (never importing it)."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return DriverModule(path, "", [], Problem(f"cannot read the file: {exc}"))
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as exc:
        return DriverModule(
            path, source, [], Problem(f"SyntaxError: {exc.msg}", exc.lineno, exc.offset)
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        return DriverModule(path, source, [], Problem(f"cannot parse the file: {exc}"))
    return DriverModule(path, source, list(driver_classes(tree)))


def driver_classes(tree: ast.Module) -> Iterator[DriverClass]:
    """The module's top-level classes that derive from an allowed base class."""
    module_doc = ast.get_docstring(tree)
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        base = next(
            (b.id for b in node.bases if isinstance(b, ast.Name) and b.id in BASE_CLASSES), None
        )
        if base is None:
            continue
        fields: dict[str, Any] = {
            "instrument_type": BASE_CLASSES[base].kind,
            "base_class": base,
            **_literal_fields(node),
        }
        description = _first_line(ast.get_docstring(node) or module_doc)
        if description:
            fields["description"] = description
        yield DriverClass(node.name, node.lineno, base, fields)


def _literal_fields(cls: ast.ClassDef) -> dict[str, Any]:
    """Fields the class body assigns literally: columns, units, default settings."""
    found: dict[str, Any] = {}
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = _self_attribute(node.targets[0])
            if name in _LITERAL_ATTRIBUTES and name not in found:
                value = _literal(node.value)
                if value is not None:
                    found[name] = value
        elif (
            isinstance(node, ast.Call)
            and _self_attribute(node.func) == "_define_settings"
            and node.args
            and "default_settings" not in found
        ):
            defaults = _literal(node.args[0])
            if isinstance(defaults, dict):
                found["default_settings"] = defaults
    for name in ("data_columns", "data_units"):
        if name in found and not isinstance(found[name], list):
            del found[name]  # a single name is not a column list
    return found


def _self_attribute(node: ast.expr) -> str | None:
    """``name`` for ``self.name``, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "self" else None
    return None


def _literal(node: ast.expr) -> Any:
    """A literal's value; ``np.array([...])`` counts as its list. None if not literal."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "array"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"np", "numpy"}
        and len(node.args) == 1
    ):
        node = node.args[0]
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return list(value) if isinstance(value, tuple) else value


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0].strip() if text and text.strip() else None
