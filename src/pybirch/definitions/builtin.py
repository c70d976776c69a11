"""PyBirch's own drivers as builtin definitions: approved, lab-less, each with a device and a test.

The drivers live in :data:`BUILTIN_DRIVERS` as plain modules that pass validation (the
drivers under :mod:`pybirch.instruments` import internal helpers, which stored code may
not), each ``<stem>.py`` with its pyvisa-sim device ``<stem>.yaml`` and its test
``<stem>.test.py`` (a ``def test(instrument):`` run by :mod:`.testing`).

:func:`sync_builtin_definitions` stores them in a database and is cheap and idempotent:
a driver whose code, test and device equal its latest builtin version changes nothing; a
changed one (a new PyBirch release) becomes a new builtin version, approved as it ships.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pybirch import __version__
from pybirch.database.errors import DuplicateError
from pybirch.database.services.definitions import VersionContent
from pybirch.definitions.driver_module import DriverClass, read_driver_module
from pybirch.definitions.library import DefinitionLibrary
from pybirch.definitions.validation import Problem

if TYPE_CHECKING:
    from pybirch.database import DatabaseService

log = logging.getLogger(__name__)

#: The folder of builtin driver modules, devices and tests.
BUILTIN_DRIVERS = Path(__file__).resolve().with_name("builtin_drivers")

#: Suffix of a builtin driver's test file (``<stem>.test.py``), which is data, not a module.
TEST_SUFFIX = ".test.py"


@dataclass(frozen=True)
class BuiltinDriver:
    """One builtin driver: its class, module code, pyvisa-sim device and test."""

    driver: DriverClass
    content: VersionContent

    @property
    def name(self) -> str:
        """The definition's name: the driver class's."""
        return self.driver.name


@dataclass
class BuiltinSyncSummary:
    """What a sync did: names created, given a new version, left unchanged, or refused."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: dict[str, Problem] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True if anything was written."""
        return bool(self.created or self.updated)


def builtin_drivers(folder: Path = BUILTIN_DRIVERS) -> list[BuiltinDriver]:
    """Every builtin driver of ``folder``, by file name."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.endswith(TEST_SUFFIX):
            continue
        module = read_driver_module(path)
        if module.problem is not None or len(module.classes) != 1:
            raise ValueError(f"builtin driver {path.name} must hold exactly one driver class")
        test = path.with_name(path.stem + TEST_SUFFIX)
        device = path.with_suffix(".yaml")
        content = VersionContent(
            module.source_code,
            test.read_text(encoding="utf-8") if test.exists() else None,
            device.read_text(encoding="utf-8") if device.exists() else None,
        )
        found.append(BuiltinDriver(module.classes[0], content))
    return found


def sync_builtin_definitions(
    db: DatabaseService, drivers: list[BuiltinDriver] | None = None
) -> BuiltinSyncSummary:
    """Store PyBirch's builtin drivers: new ones, new versions of changed ones, nothing else."""
    summary = BuiltinSyncSummary()
    library = DefinitionLibrary(db)
    existing = {
        d.name: d for d in db.get_instrument_definitions(None, include_public=False) if d.is_builtin
    }
    for builtin in builtin_drivers() if drivers is None else drivers:
        report = library.validate(builtin.content.source_code, **builtin.driver.fields)
        if not report.ok:
            log.warning("builtin driver %s does not validate: %s", builtin.name, report.problems)
            summary.invalid[builtin.name] = report.problems[0]
        elif builtin.name not in existing:
            _create(db, builtin, summary)
        elif _new_version(db, existing[builtin.name].id, builtin):
            summary.updated.append(builtin.name)
        else:
            summary.unchanged.append(builtin.name)
    return summary


def _create(db: DatabaseService, builtin: BuiltinDriver, summary: BuiltinSyncSummary) -> None:
    fields = dict(builtin.driver.fields)
    try:
        db.create_instrument_definition(
            None,
            builtin.name,
            fields.pop("instrument_type"),
            builtin.content.source_code,
            author_id=None,
            change_summary=f"ships with PyBirch {__version__}",
            is_builtin=True,
            test_code=builtin.content.test_code,
            sim_device=builtin.content.sim_device,
            **fields,
        )
    except DuplicateError:  # another process synced it a moment ago
        summary.unchanged.append(builtin.name)
    else:
        summary.created.append(builtin.name)


def _new_version(db: DatabaseService, definition_id: int, builtin: BuiltinDriver) -> bool:
    """Add an approved builtin version if code, test or device changed; whether it did."""
    fields = {k: v for k, v in builtin.driver.fields.items() if k != "instrument_type"}
    version = db.update_builtin_definition(
        definition_id,
        builtin.content.source_code,
        test_code=builtin.content.test_code,
        sim_device=builtin.content.sim_device,
        change_summary=f"ships with PyBirch {__version__}",
        instrument_type=builtin.driver.fields["instrument_type"],
        **fields,
    )
    return version is not None
