"""Lists of user callbacks that are called safely: a callback that raises is logged, never fatal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pybirch.queue.log import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)


class CallbackList:
    """Thread-safe callbacks of one kind (``kind`` names them in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._callbacks: list[Callable[..., Any]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._callbacks)

    def add(self, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on every future event of this kind."""
        if not callable(callback):
            raise TypeError(f"{self.kind} callback must be callable, not {callback!r}")
        with self._lock:
            self._callbacks.append(callback)

    def remove(self, callback: Callable[..., Any]) -> bool:
        """Stop calling ``callback``; return whether it was registered."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
                return True
            return False

    def fire(self, *args: Any) -> None:
        """Call every callback with ``args``; one that raises is logged with its traceback."""
        with self._lock:
            callbacks = list(self._callbacks)  # a callback may add or remove callbacks
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:
                # A broken observer (a UI, a database writer) must never stop the scans.
                logger.exception("%s callback %r raised", self.kind, callback)
