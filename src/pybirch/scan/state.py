"""The life of a scan as an explicit state machine."""

from __future__ import annotations

from enum import StrEnum

from pybirch.scan.errors import ScanStateError


class ScanState(StrEnum):
    """Where a scan is in its life; the values are what the database stores."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """True for the three end states."""
        return self in _FINISHED

    @property
    def active(self) -> bool:
        """True while the scan holds its instruments (running or paused)."""
        return self in (ScanState.RUNNING, ScanState.PAUSED)


_FINISHED = frozenset({ScanState.COMPLETED, ScanState.ABORTED, ScanState.FAILED})

#: Every allowed transition; anything else is a bug or a late control call.
TRANSITIONS: dict[ScanState, frozenset[ScanState]] = {
    ScanState.QUEUED: frozenset({ScanState.RUNNING, ScanState.ABORTED, ScanState.FAILED}),
    ScanState.RUNNING: frozenset(
        {ScanState.PAUSED, ScanState.COMPLETED, ScanState.ABORTED, ScanState.FAILED}
    ),
    ScanState.PAUSED: frozenset({ScanState.RUNNING, ScanState.ABORTED, ScanState.FAILED}),
    ScanState.COMPLETED: frozenset(),
    ScanState.ABORTED: frozenset(),
    ScanState.FAILED: frozenset(),
}


def check_transition(old: ScanState, new: ScanState) -> None:
    """Raise :class:`ScanStateError` unless ``old -> new`` is allowed."""
    if new not in TRANSITIONS[old]:
        raise ScanStateError(f"a scan cannot go from {old.value} to {new.value}")
