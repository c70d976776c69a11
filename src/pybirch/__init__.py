"""PyBirch: a laboratory measurement platform.

The engine lives in three layers that import only downwards:
:mod:`pybirch.instruments` (drivers), :mod:`pybirch.scan` (what to measure and the
engine that measures it) and :mod:`pybirch.queue` (running scans one after another or
side by side).
"""

__version__ = "0.1.0"
