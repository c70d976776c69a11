"""Login throttling: too many failures for one user name from one address wait a while."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    """Counts failed logins per (user name, address) in a sliding window."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> float:
        """Seconds to wait before another attempt is allowed (0 when allowed now)."""
        with self._lock:
            failures = self._recent(username.lower(), address)
            if len(failures) < self.attempts:
                return 0.0
            return max(0.0, failures[0] + self.window - time.monotonic())

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt."""
        with self._lock:
            self._recent(username.lower(), address).append(time.monotonic())

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of a user who logged in."""
        with self._lock:
            self._failures.pop((username.lower(), address), None)

    def _recent(self, username: str, address: str) -> deque[float]:
        failures = self._failures[(username, address)]
        horizon = time.monotonic() - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures
