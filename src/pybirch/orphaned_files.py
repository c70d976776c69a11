"""Files that outlive the process writing them: the spool and the point journal.

A writer holds ``flock`` on its file for as long as it lives, so a file nobody holds
belongs to a process that is gone, and its contents are for whoever replays them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class OrphanedFile:
    """A file whose writer is gone, locked by us until :meth:`release`."""

    path: Path
    fd: int

    def release(self, delete: bool) -> None:
        """Unlock the file, deleting it first if its contents are safe elsewhere."""
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)


def orphaned_files(
    directory: Path, suffix: str, order: Callable[[Path], Any] | None = None
) -> Iterator[OrphanedFile]:
    """Files ending in ``suffix`` that no live writer holds, sorted by ``order`` (else by
    name), each locked for the caller."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{suffix}"), key=order):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # replayed or deleted by another process meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live writer owns it
            continue
        if not path.exists():
            os.close(fd)
            continue
        yield OrphanedFile(path, fd)
