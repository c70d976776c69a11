"""A demo lab on simulated instruments: the scans `pybirch demo` runs."""

from pybirch.demo.lab import DemoLab, build_demo_lab

__all__ = ["DemoLab", "build_demo_lab"]
