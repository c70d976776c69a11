"""Login throttling: too many failures for one user name, or from one address, wait a while.

An attempt takes its place in the count *before* its password is checked
(:meth:`LoginThrottle.reserve`), so concurrent attempts cannot all slip past the limit;
a successful login gives its place back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

#: ``app.extensions`` key of the app's :class:`LoginThrottle`.
THROTTLE_KEY = "pybirch.login_throttle"


class LoginThrottled(Exception):
    """Too many failed logins: the next attempt is allowed in ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(eq=False)
class Attempt:
    """A login attempt counted as failed until :meth:`succeeded` or :meth:`cancel` says not."""

    throttle: LoginThrottle
    keys: tuple[tuple[str, ...], ...]
    at: float

    def succeeded(self) -> None:
        """The password was right: forget this name's failures and give the place back."""
        self.throttle._give_back(self, forget=self.keys[0])

    def cancel(self) -> None:
        """The password was never checked (the server was busy): give the place back."""
        self.throttle._give_back(self)


class LoginThrottle:
    """Counts failed logins per (user name, address) and per address in a sliding window."""

    def __init__(self, attempts: int, window: float, address_attempts: int) -> None:
        self.attempts = attempts
        self.address_attempts = address_attempts
        self.window = window
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, username: str, address: str) -> Attempt:
        """Count an attempt now, or raise :class:`LoginThrottled` if one limit is reached."""
        keys = (("name", username.lower(), address), ("address", address))
        limits = (self.attempts, self.address_attempts)
        with self._lock:
            now = time.monotonic()
            waits = [
                failures[0] + self.window - now
                for key, limit in zip(keys, limits, strict=True)
                if len(failures := self._recent(key, now)) >= limit
            ]
            if waits:
                raise LoginThrottled(max(1.0, max(waits)))
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
        return Attempt(self, keys, now)

    def _give_back(self, attempt: Attempt, forget: tuple[str, ...] | None = None) -> None:
        with self._lock:
            for key in attempt.keys:
                failures = self._failures.get(key)
                if failures is not None and attempt.at in failures:
                    failures.remove(attempt.at)
                if key == forget or not failures:
                    self._failures.pop(key, None)

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] < now - self.window:
            failures.popleft()
        if not failures:
            # Forget quiet keys, so a flood of made-up names does not grow memory for ever.
            self._failures.pop(key, None)
        return failures
