"""One thread per scan that calls every extension hook, in order, never concurrently.

Batches are queued without waiting (up to a bound, so a slow extension slows the scan
instead of filling memory); lifecycle hooks wait until every extension ran them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from pybirch.scan.batch import DataBatch
from pybirch.scan.errors import ExtensionError
from pybirch.scan.extension import ScanExtension

log = logging.getLogger(__name__)

_STOP = object()


class ExtensionDispatcher:
    """Delivers batches and hooks to a scan's extensions from a single thread."""

    def __init__(
        self,
        scan_name: str,
        extensions: Sequence[ScanExtension],
        on_critical_error: Callable[[ExtensionError], None],
        max_pending_batches: int = 64,
    ) -> None:
        self.scan_name = scan_name
        #: Extensions still receiving calls; one that raised is removed.
        self.active: list[ScanExtension] = list(extensions)
        #: Every extension error so far, critical or not.
        self.errors: list[ExtensionError] = []
        self._on_critical_error = on_critical_error
        # A SimpleQueue (written in C) hands a batch over in a fraction of the time a Queue
        # (Python, a condition per call) takes, on both threads; a semaphore keeps the bound.
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Semaphore(max_pending_batches)
        self._thread = threading.Thread(
            target=self._run, name=f"pybirch-extensions[{scan_name}]", daemon=True
        )
        self._thread.start()

    def submit(self, batch: DataBatch) -> None:
        """Queue a batch for every extension; blocks only if extensions fall far behind."""
        self._room.acquire()
        self._tasks.put(batch)

    def call(self, hook: str, *args: Any) -> ExtensionError | None:
        """Run ``hook`` on every extension after all queued batches; return a critical error."""
        done: Future[ExtensionError | None] = Future()
        self._tasks.put((hook, args, done))
        return done.result()

    def drain(self) -> None:
        """Wait until every queued batch was delivered."""
        self.call("")

    def close(self) -> None:
        """Deliver what is queued, then stop the thread."""
        self._tasks.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while (task := self._tasks.get()) is not _STOP:
            if isinstance(task, DataBatch):
                self._room.release()
                self._deliver(task)
            else:
                hook, args, done = task
                done.set_result(self._call_hook(hook, args) if hook else None)

    def _deliver(self, batch: DataBatch) -> None:
        for extension in list(self.active):
            try:
                extension.save_batch(batch)
            except Exception as exc:  # noqa: BLE001 - recorded and reported by _fail
                self._fail(extension, "save_data", exc)

    def _call_hook(self, hook: str, args: tuple[Any, ...]) -> ExtensionError | None:
        first_critical = None
        for extension in list(self.active):
            try:
                getattr(extension, hook)(*args)
            except Exception as exc:  # noqa: BLE001 - recorded and reported by _fail
                error = self._fail(extension, hook, exc)
                if extension.critical and first_critical is None:
                    first_critical = error
        return first_critical

    def _fail(self, extension: ScanExtension, hook: str, exc: Exception) -> ExtensionError:
        error = ExtensionError(type(extension).__name__, hook, exc)
        error.__cause__ = exc
        self.errors.append(error)
        self.active.remove(extension)
        if extension.critical:
            log.error("scan %r: %s", self.scan_name, error, exc_info=exc)
            self._on_critical_error(error)
        else:
            log.warning(
                "scan %r: %s; the extension is detached and the scan goes on",
                self.scan_name,
                error,
                exc_info=exc,
            )
        return error
