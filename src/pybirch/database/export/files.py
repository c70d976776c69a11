"""Where export files go: safe names, directory or file targets, and all-or-nothing writes."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pybirch.database.export.errors import ExportError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(text: str) -> str:
    """A file-name-safe version of a scan or measurement name."""
    return _UNSAFE.sub("_", text).strip("_.") or "unnamed"


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with ``_2``, ``_3``... appended to repeats, so no two are equal."""
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, counter = name, 1
        while candidate in taken:
            counter += 1
            candidate = f"{name}_{counter}"
        taken.add(candidate)
        unique.append(candidate)
    return unique


def is_directory_target(target: str | os.PathLike[str]) -> bool:
    """True if ``target`` names a directory: an existing one, a path ending in a separator,
    or a path that does not exist and has no suffix."""
    text = os.fspath(target)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        return True
    return not path.exists() and not path.suffix


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` only if the block succeeds.

    A failed export leaves no half-written file; an existing file at ``path`` is replaced.
    Errors of the file system become :class:`ExportError`.
    """
    partial = path.with_name(f".{path.name}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
