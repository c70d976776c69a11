"""Pause, resume, abort and failure requests, read by the engine at point boundaries.

The engine reads one list item per point, which costs less than any lock or Event: a
point-by-point loop compares each point's timestamp with ``due[0]``, other loops test
``flag[0]``. The details of a request are read under the lock only when one is set.
"""

from __future__ import annotations

import math
import threading
from enum import Enum


class Request(Enum):
    """What the engine should do at the next point boundary."""

    PAUSE = "pause"
    ABORT = "abort"
    FAIL = "fail"


class AbortRequested(Exception):
    """Raised inside the engine to unwind to the scan when an abort was requested."""


class ScanControl:
    """Requests made from any thread, served by the scan's own thread."""

    def __init__(self) -> None:
        #: True while any request waits.
        self.flag = [False]
        #: When the engine's tight loop must stop between points: the executor keeps its
        #: next flush time here, and a request sets it to -inf, so that one comparison per
        #: point serves both.
        self.due = [math.inf]
        self._condition = threading.Condition()
        self._pause = False
        self._abort = False
        self._failure: BaseException | None = None
        #: True while the engine waits for a lost instrument to be reconnected.
        self._lost = False

    def request_pause(self) -> None:
        """Ask the engine to pause at the next point boundary."""
        with self._condition:
            self._pause = True
            self._raise_flag()

    def request_resume(self) -> None:
        """Withdraw a pause request, or end a pause."""
        with self._condition:
            self._pause = False
            self._condition.notify_all()
            self._raise_flag()

    def request_abort(self) -> None:
        """Ask the engine to stop at the next point boundary."""
        with self._condition:
            self._abort = True
            self._raise_flag()
            self._condition.notify_all()

    def request_failure(self, error: BaseException) -> None:
        """Make the engine fail with ``error`` at the next point boundary."""
        with self._condition:
            if self._failure is None:
                self._failure = error
            self._raise_flag()
            self._condition.notify_all()

    def pending(self) -> Request | None:
        """The most urgent request, or None (which also lowers the flag)."""
        with self._condition:
            if self._failure is not None:
                return Request.FAIL
            if self._abort:
                return Request.ABORT
            if self._pause:
                return Request.PAUSE
            self.flag[0] = False
            return None

    @property
    def failure(self) -> BaseException | None:
        """The error a failure request carries."""
        return self._failure

    def wait_while_paused(self) -> Request | None:
        """Block while paused; return ABORT or FAIL if one ends the pause, else None."""
        with self._condition:
            self._condition.wait_for(lambda: not self._pause or self._abort or self._failure)
        request = self.pending()
        return request if request is not Request.PAUSE else None

    def expect_reconnect(self) -> None:
        """Note that the engine waits for a lost instrument (ended by :meth:`reconnected`)."""
        with self._condition:
            self._lost = True

    def reconnected(self) -> None:
        """The lost instrument answers again: end the engine's wait for it."""
        with self._condition:
            self._lost = False
            self._condition.notify_all()

    def wait_while_lost(self) -> Request | None:
        """Block until the lost instrument is back (None), or ABORT or FAIL ends the wait.

        A resume request does not end it: resuming needs the instrument.
        """
        with self._condition:
            self._condition.wait_for(lambda: not self._lost or self._abort or self._failure)
            self._lost = False
            if self._failure is not None:
                return Request.FAIL
            if self._abort:
                return Request.ABORT
            return None

    def _raise_flag(self) -> None:
        self.flag[0] = self._pause or self._abort or self._failure is not None
        if self.flag[0]:
            self.due[0] = -math.inf
