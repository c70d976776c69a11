"""Stored definitions out to plain driver files that import and run without PyBirch's database.

Stored code may use ``np`` and the PyBirch base classes without importing them: the
loading namespace provides them. An exported file cannot count on that, so
:func:`standalone_source` adds the imports the code relies on but does not make itself,
under a header naming the definition, its version and the hash of its code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pybirch.definitions.base_classes import BASE_CLASSES

if TYPE_CHECKING:
    from pybirch.database import DatabaseService
    from pybirch.database.models import InstrumentDefinition, InstrumentDefinitionVersion

#: Where exported code imports the base classes from.
BASE_CLASS_IMPORT = "pybirch.instruments"


@dataclass(frozen=True)
class ExportedDefinition:
    """One file written: the definition, the version it holds, and whether it is approved."""

    path: Path
    name: str
    version: int
    approved: bool


def export_definitions(
    db: DatabaseService,
    directory: Path,
    *,
    lab_id: int | None,
    definitions: Iterable[InstrumentDefinition] | None = None,
) -> list[ExportedDefinition]:
    """Write every definition the lab sees (or those given) to ``directory`` as ``<name>.py``."""
    directory.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    chosen = db.get_instrument_definitions(lab_id) if definitions is None else definitions
    return [
        export_definition(db, definition, directory, lab_id=lab_id, taken=taken)
        for definition in chosen
    ]


def export_definition(
    db: DatabaseService,
    definition: InstrumentDefinition,
    directory: Path,
    *,
    lab_id: int | None,
    taken: set[str] | None = None,
) -> ExportedDefinition:
    """Write one definition's approved version (else its latest) to ``directory``."""
    approved = definition.approved_version is not None
    number = definition.approved_version if approved else definition.version
    version = db.get_definition_version(definition.id, number, lab_id=lab_id)
    stem = _file_stem(definition, taken if taken is not None else set())
    path = directory / f"{stem}.py"
    path.write_text(
        _header(definition, version, approved) + standalone_source(version.source_code),
        encoding="utf-8",
    )
    return ExportedDefinition(path, definition.name, version.version, approved)


def standalone_source(source_code: str) -> str:
    """The code with the imports of ``np`` and base classes it uses but does not import."""
    tree = ast.parse(source_code)
    bound = _bound_names(tree)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - bound
    lines = []
    if "np" in used:
        lines.append("import numpy as np")
    bases = sorted(used & set(BASE_CLASSES))
    if bases:
        lines.append(f"from {BASE_CLASS_IMPORT} import {', '.join(bases)}")
    if not lines:
        return source_code
    return "\n".join(lines) + "\n\n" + source_code.lstrip("\n")


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module binds at its top level: imports, classes, functions, assignments."""
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return bound


def _header(
    definition: InstrumentDefinition, version: InstrumentDefinitionVersion, approved: bool
) -> str:
    state = "approved" if approved else f"NOT APPROVED ({version.status})"
    origin = "builtin" if definition.is_builtin else f"lab {definition.lab_id}"
    return (
        f"# PyBirch instrument definition {definition.name!r} ({origin}), "
        f"version {version.version}, {state}\n"
        f"# code sha256 {version.code_hash}\n"
        "# Exported by `pybirch definitions export`; imports PyBirch's base classes only.\n\n"
    )


def _file_stem(definition: InstrumentDefinition, taken: set[str]) -> str:
    """A file name for the definition, unique among those written in this export."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", definition.name).strip("_") or "definition"
    if stem in taken:
        stem = f"{stem}_{definition.id}"
    taken.add(stem)
    return stem
