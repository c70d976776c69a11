"""Where a driver class comes from: a stored definition, a lab's driver file, or a package.

A scan's record and a computer's bindings name the driver that took the data with this
one description, so "which code measured this?" has one answer everywhere. Classes made
from stored definitions carry ``definition_id``, ``definition_name``,
``definition_version`` and ``definition_code_hash`` (set by
:class:`pybirch.definitions.InstrumentFactory`); this module only reads them.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Any

from pybirch.instruments.driver_files import MODULE_PREFIX


def driver_origin(driver: type) -> dict[str, Any]:
    """``{"kind": "definition"|"file"|"installed", "class", "version", ...}`` of a class."""
    path = f"{driver.__module__}.{driver.__qualname__}"
    if getattr(driver, "definition_id", None) is not None:
        return {
            "kind": "definition",
            "class": path,
            "definition_id": driver.definition_id,  # type: ignore[attr-defined]
            "name": getattr(driver, "definition_name", driver.__name__),
            "version": getattr(driver, "definition_version", None),
            "code_hash": getattr(driver, "definition_code_hash", None),
        }
    if driver.__module__.startswith(MODULE_PREFIX):
        module = sys.modules.get(driver.__module__)
        return {
            "kind": "file",
            "class": path,
            "path": getattr(module, "__file__", None),
            "version": str(getattr(driver, "driver_version", "unknown")),
        }
    return {"kind": "installed", "class": path, "version": _package_version(driver)}


def _package_version(driver: type) -> str:
    """The driver's own ``driver_version``, else the version of the package it comes from."""
    own = getattr(driver, "driver_version", None)
    if own is not None:
        return str(own)
    try:
        return importlib.metadata.version(driver.__module__.split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return "unknown"
