"""A lab's own driver files: every ``*.py`` in a folder, imported so its classes register.

These are files on the lab computer itself, run with the computer user's privileges like any
Python module it imports (drivers stored in the database run sandboxed; that is
:mod:`pybirch.definitions`, not this module).

Each file is imported as its own module, named ``pybirch_driver_<stem>_<hash>`` where the
hash is that of the file's absolute path: unique per file, and the same in every run, so an
instrument serialized as ``module:QualName`` resolves again after a restart. Files are not
packages: a driver file cannot import a sibling file of the folder.

A file that fails (a syntax error, an exception at import) never stops the others: the
failure is logged and reported with its line. Loading a folder again imports only the files
that changed, and withdraws the classes of files that changed or disappeared, so the registry
never holds two versions of a driver.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pybirch.configuration import current_config
from pybirch.instruments.errors import DriverFilesError
from pybirch.instruments.registry import (
    instrument_class_path,
    registered_instrument_classes,
    unregister_module,
)

log = logging.getLogger(__name__)

#: Module names of driver files start with this, so they cannot shadow a real module.
MODULE_PREFIX = "pybirch_driver_"


def default_drivers_dir() -> Path:
    """``PYBIRCH_DRIVERS_DIR``, else ``drivers`` in the data directory (not created here)."""
    return current_config().drivers_dir


@dataclass(frozen=True)
class DriverFile:
    """A driver file that imported: its module and the instrument classes it defines."""

    path: Path
    module: str
    #: ``module:QualName`` of every instrument class the file defines (abstract ones too).
    classes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"path": str(self.path), "module": self.module, "classes": list(self.classes)}


@dataclass(frozen=True)
class DriverFileFailure:
    """A driver file that did not import: where and why."""

    path: Path
    #: Line in the file where it failed, or None when no line of the file is at fault.
    line: int | None
    #: ``ExceptionType: message``.
    error: str

    @property
    def file_name(self) -> str:
        """The file's name, without its folder."""
        return self.path.name

    def __str__(self) -> str:
        where = f"{self.file_name}:{self.line}" if self.line is not None else self.file_name
        return f"{where}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"path": str(self.path), "line": self.line, "error": self.error}


@dataclass(frozen=True)
class DriverFiles:
    """What :func:`load_driver_files` found in a folder: the files that loaded, and failures."""

    directory: Path
    loaded: tuple[DriverFile, ...] = ()
    failures: tuple[DriverFileFailure, ...] = ()
    #: Modules withdrawn because their file disappeared from the folder since the last load.
    removed: tuple[str, ...] = ()

    @property
    def classes(self) -> list[str]:
        """Import paths of every instrument class the loaded files define."""
        return [path for file in self.loaded for path in file.classes]

    @property
    def files_without_classes(self) -> list[Path]:
        """Files that imported but define no instrument class (a helper, or a mistake)."""
        return [file.path for file in self.loaded if not file.classes]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "directory": str(self.directory),
            "loaded": [file.to_dict() for file in self.loaded],
            "failures": [failure.to_dict() for failure in self.failures],
            "removed": list(self.removed),
        }


@dataclass(frozen=True)
class _Imported:
    """A file imported earlier: the content it was imported from, and the result."""

    digest: str
    result: DriverFile


# Files imported so far, by absolute path; the lock makes each load one step, because two
# loads of the same folder at once would race on sys.modules and the registry.
_imported: dict[Path, _Imported] = {}
_load_lock = threading.Lock()


def load_driver_files(directory: str | os.PathLike[str] | None = None) -> DriverFiles:
    """Import every ``*.py`` file of ``directory`` (default :func:`default_drivers_dir`).

    A missing folder holds no drivers (an empty report). Raises :class:`DriverFilesError`
    only if the folder exists but cannot be listed; a bad file is reported, never raised.
    Hidden files (``.name.py``, such as editors' lock files) are skipped.
    """
    folder = Path(directory) if directory is not None else default_drivers_dir()
    folder = folder.expanduser().resolve()
    if not folder.exists():
        log.debug("no driver folder at %s", folder)
        return DriverFiles(folder)
    try:
        paths = sorted(
            path
            for path in folder.iterdir()
            if path.suffix == ".py" and not path.name.startswith(".") and path.is_file()
        )
    except OSError as exc:
        raise DriverFilesError(f"cannot list the driver folder {folder}: {exc}") from exc

    loaded: list[DriverFile] = []
    failures: list[DriverFileFailure] = []
    with _load_lock:
        removed = _forget_missing(folder, set(paths))
        for path in paths:
            outcome = _load_file(path)
            if isinstance(outcome, DriverFileFailure):
                failures.append(outcome)
            else:
                loaded.append(outcome)
    report = DriverFiles(folder, tuple(loaded), tuple(failures), tuple(removed))
    log.info(
        "driver folder %s: %d file(s) loaded, %d class(es), %d failure(s)",
        folder,
        len(report.loaded),
        len(report.classes),
        len(report.failures),
    )
    return report


def unload_driver_files(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """Withdraw every module loaded from ``directory`` and its classes; return their names."""
    folder = Path(directory) if directory is not None else default_drivers_dir()
    with _load_lock:
        return _forget_missing(folder.expanduser().resolve(), present=set())


def module_name_for(path: Path) -> str:
    """The module name a driver file is imported under: unique, and stable across runs."""
    resolved = path.expanduser().resolve()
    stem = re.sub(r"\W", "_", resolved.stem)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    return f"{MODULE_PREFIX}{stem}_{digest}"


def _forget_missing(folder: Path, present: set[Path]) -> list[str]:
    """Withdraw the modules of files of ``folder`` not in ``present``; return their names."""
    removed = []
    for path in [p for p in _imported if p.parent == folder and p not in present]:
        module = _imported.pop(path).result.module
        _withdraw(module)
        log.info("driver file %s withdrawn: %s", path, module)
        removed.append(module)
    return removed


def _withdraw(module: str) -> None:
    """Remove a driver module and its registered classes."""
    sys.modules.pop(module, None)
    unregister_module(module)


def _load_file(path: Path) -> DriverFile | DriverFileFailure:
    """Import one file, unless the same content is already imported."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        return _failed(path, None, f"{type(exc).__name__}: {exc}", exc)
    digest = hashlib.sha256(source).hexdigest()
    module_name = module_name_for(path)
    earlier = _imported.get(path)
    if earlier is not None and earlier.digest == digest and module_name in sys.modules:
        return earlier.result
    # a changed file replaces its earlier version entirely, classes it no longer defines too
    _imported.pop(path, None)
    _withdraw(module_name)

    # Compile the bytes just hashed rather than let an import loader read the file again: what
    # runs is what the digest describes, and no bytecode cache (stale when a file is rewritten
    # within the same second at the same size) can stand in for it.
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _failed(path, exc.lineno, f"{type(exc).__name__}: {exc.msg}", exc)
    except ValueError as exc:  # Python 3.11: null bytes in the source
        return _failed(path, None, f"{type(exc).__name__}: {exc}", exc)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        return _failed(path, None, "ImportError: Python cannot import this file", None)
    module = importlib.util.module_from_spec(spec)
    # registered before running, like any import: dataclasses and typing look the module up
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    # A driver file is arbitrary code: whatever it raises (SystemExit from a stray exit()
    # included) is its failure to report, and must not stop the files after it.
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - logged and reported by _failed
        # classes defined above the failing line registered already: withdraw them too
        _withdraw(module_name)
        return _failed(path, _line_in(path, exc), f"{type(exc).__name__}: {exc}", exc)

    result = DriverFile(path, module_name, _classes_of(module))
    _imported[path] = _Imported(digest, result)
    if not result.classes:
        log.warning("driver file %s defines no instrument class", path)
    return result


def _classes_of(module: ModuleType) -> tuple[str, ...]:
    """Import paths of the instrument classes ``module`` itself defines (not imports)."""
    return tuple(
        instrument_class_path(cls)
        for cls in registered_instrument_classes()
        if cls.__module__ == module.__name__
    )


def _line_in(path: Path, exc: BaseException) -> int | None:
    """The line of ``path`` the exception went through last, if it went through it."""
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename) == path
    ]
    return lines[-1] if lines else None


def _failed(
    path: Path, line: int | None, error: str, exc: BaseException | None
) -> DriverFileFailure:
    """Log a failed file and describe it."""
    failure = DriverFileFailure(path, line, error)
    log.warning("driver file %s failed: %s", path, failure, exc_info=exc)
    return failure
