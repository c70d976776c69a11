"""What a user can ask of a queue or of one of its scans: start, pause, resume, abort."""

from __future__ import annotations

from enum import StrEnum

from pybirch.errors import PyBirchError


class UnknownActionError(PyBirchError, ValueError):
    """The action is not one a queue (or a scan) knows."""


class Action(StrEnum):
    """A control request; its value is the word used in URLs and on the wire."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"

    @classmethod
    def for_queue(cls, word: str | Action) -> Action:
        """The action ``word`` names for a whole queue (UnknownActionError otherwise)."""
        try:
            return cls(word)
        except ValueError:
            raise UnknownActionError(f"unknown queue action {word!r}") from None

    @classmethod
    def for_scan(cls, word: str | Action) -> Action:
        """The action ``word`` names for one scan: a scan is started by its queue, not alone."""
        action = cls.for_queue(word)
        if action is cls.START:
            raise UnknownActionError("a scan is started by starting its queue")
        return action


#: The actions a queue obeys, and those one scan of it obeys.
QUEUE_ACTIONS = tuple(Action)
SCAN_ACTIONS = (Action.PAUSE, Action.RESUME, Action.ABORT)
