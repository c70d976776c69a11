"""Exceptions raised by the queue and by samples."""

from __future__ import annotations

from pybirch.errors import PyBirchError
from pybirch.sample_images import SampleError

__all__ = ["QueueError", "QueueStateError", "SampleError", "ScanNotFoundError"]


class QueueError(PyBirchError):
    """Base class of queue errors; also raised for a request the queue cannot honour."""


class ScanNotFoundError(QueueError, LookupError):
    """No scan with this ``scan_id`` is in the queue."""

    def __init__(self, scan_id: str) -> None:
        super().__init__(f"no scan with id {scan_id!r} in the queue")
        #: The id that was looked up.
        self.scan_id = scan_id


class QueueStateError(QueueError):
    """A request that the current state of the queue or of the scan does not allow."""
