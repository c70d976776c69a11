"""Driver files into a lab's library: each driver module becomes a validated, versioned definition.

A folder (or one file) of driver modules is read statically (:mod:`.driver_module`): no
file is imported or run. Each driver class found is validated with its module's whole code
and the fields the class states; a valid one is stored as a new definition, or as a new
version of the lab's definition of that name when its code differs. Code equal to the
latest version's is left alone, so importing the same folder twice changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pybirch.definitions.driver_module import DriverClass, DriverModule, read_driver_module
from pybirch.definitions.library import DefinitionLibrary
from pybirch.definitions.validation import Problem

if TYPE_CHECKING:
    from pybirch.database import DatabaseService
    from pybirch.database.models import InstrumentDefinition


class ImportOutcome(enum.Enum):
    """What importing one driver class did (or, in a dry run, would do)."""

    STORED = "stored"
    NEW_VERSION = "new version"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    NO_DRIVER = "no driver class"


@dataclass(frozen=True)
class ImportResult:
    """One row of an import: the file, the class, what happened."""

    path: Path
    class_name: str | None
    outcome: ImportOutcome
    #: The version stored (or that would be stored); None when nothing is stored.
    version: int | None = None
    #: The first problem of an invalid driver.
    problem: Problem | None = None

    @property
    def failed(self) -> bool:
        """True when the file holds a driver (or code) that cannot be stored."""
        return self.outcome is ImportOutcome.INVALID

    def describe(self, *, dry_run: bool = False) -> str:
        """The outcome as the import table shows it."""
        if self.outcome is ImportOutcome.INVALID and self.problem is not None:
            where = f" (line {self.problem.line})" if self.problem.line is not None else ""
            return f"invalid: {self.problem.message}{where}"
        if self.outcome in (ImportOutcome.STORED, ImportOutcome.NEW_VERSION):
            verb = "would be " if dry_run else ""
            what = "stored" if self.outcome is ImportOutcome.STORED else "new version"
            return f"{verb}{what} v{self.version}"
        return self.outcome.value


def driver_files(path: Path) -> list[Path]:
    """The ``.py`` files to import: ``path`` itself, or those under a folder, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no driver file or folder at {path}")
    return sorted(p for p in path.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)


class DefinitionImporter:
    """Imports driver modules into one lab's definitions, as one author."""

    def __init__(
        self, db: DatabaseService, *, lab_id: int, author_id: int, dry_run: bool = False
    ) -> None:
        self.library = DefinitionLibrary(db)
        self.db = db
        self.lab_id = lab_id
        self.author_id = author_id
        self.dry_run = dry_run
        #: The lab's own definitions by name (builtin and public ones are not the lab's).
        self._existing = {
            d.name: d
            for d in db.get_instrument_definitions(
                lab_id, include_public=False, include_builtin=False
            )
        }

    def import_file(self, path: Path) -> list[ImportResult]:
        """Import every driver class of one file; a row per class (or one for the file)."""
        module = read_driver_module(path)
        if module.problem is not None:
            return [ImportResult(path, None, ImportOutcome.INVALID, problem=module.problem)]
        if not module.classes:
            return [ImportResult(path, None, ImportOutcome.NO_DRIVER)]
        return [self._import_class(module, driver) for driver in module.classes]

    def _import_class(self, module: DriverModule, driver: DriverClass) -> ImportResult:
        report = self.library.validate(module.source_code, **driver.fields)
        if not report.ok:
            return ImportResult(
                module.path, driver.name, ImportOutcome.INVALID, problem=report.problems[0]
            )
        existing = self._existing.get(driver.name)
        if existing is None:
            return self._create(module, driver)
        latest = self.db.get_definition_version(existing.id, existing.version, lab_id=self.lab_id)
        if latest.source_code == module.source_code:
            return ImportResult(module.path, driver.name, ImportOutcome.UNCHANGED, existing.version)
        return self._new_version(module, driver, existing)

    def _create(self, module: DriverModule, driver: DriverClass) -> ImportResult:
        if not self.dry_run:
            fields = dict(driver.fields)
            definition = self.library.create(
                self.lab_id,
                driver.name,
                fields.pop("instrument_type"),
                module.source_code,
                author_id=self.author_id,
                change_summary=f"imported from {module.path.name}",
                **fields,
            )
            self._existing[definition.name] = definition
        return ImportResult(module.path, driver.name, ImportOutcome.STORED, 1)

    def _new_version(
        self, module: DriverModule, driver: DriverClass, existing: InstrumentDefinition
    ) -> ImportResult:
        version = existing.version + 1
        if not self.dry_run:
            updated = self.library.update(
                existing.id,
                lab_id=self.lab_id,
                author_id=self.author_id,
                source_code=module.source_code,
                change_summary=f"imported from {module.path.name}",
                **driver.fields,
            )
            self._existing[updated.name] = updated
            version = updated.version
        return ImportResult(module.path, driver.name, ImportOutcome.NEW_VERSION, version)
