"""Queues of scans: run them one after another or side by side, and the samples they measure.

::

    queue = Queue("Q1", mode=ExecutionMode.PARALLEL, max_parallel_scans=2)
    handle = queue.enqueue(scan)
    queue.add_state_callback(lambda scan_id, state: print(scan_id, state))
    queue.start()
    queue.wait_for_completion()
"""

from pybirch.queue.errors import QueueError, QueueStateError, SampleError, ScanNotFoundError
from pybirch.queue.handle import ScanHandle
from pybirch.queue.log import LogEntry
from pybirch.queue.queue import Queue
from pybirch.queue.samples import Sample
from pybirch.queue.state import ExecutionMode, QueueState
from pybirch.scan.state import ScanState

__all__ = [
    "ExecutionMode",
    "LogEntry",
    "Queue",
    "QueueError",
    "QueueState",
    "QueueStateError",
    "Sample",
    "SampleError",
    "ScanHandle",
    "ScanNotFoundError",
    "ScanState",
]
