"""Instruments and extensions that let engine tests see exactly what happened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from pybirch.instruments import Measurement, Movement, MovementLimitError
from pybirch.scan import DataBatch, ScanExtension


class NullMovement(Movement):
    """A movement that only stores its position: costs nothing per point."""

    def __init__(self, name: str = "still", column: str | None = None, units: str = "") -> None:
        super().__init__(name)
        if column is not None:
            self.position_column, self.position_units = column, units
        self._position = 0.0

    @property
    def position(self) -> float:
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        self._position = value


class RecordingStage(Movement):
    """A stage that remembers every position it was commanded to."""

    def __init__(self, name: str = "stage", column: str = "x", limits=None, adapter: str = ""):
        super().__init__(name, adapter)
        self.position_column = column
        self.position_units = "mm"
        self.limits = limits
        self.moves: list[float] = []
        self.fail_at: float | None = None
        self._position = 0.0

    @property
    def position(self) -> float:
        return self._position

    @position.setter
    def position(self, value: float) -> None:
        if self.fail_at is not None and value >= self.fail_at:
            raise MovementLimitError(f"limit switch hit at {value}", self.name)
        self.moves.append(value)
        self._position = value


class PositionProbe(Measurement):
    """Reads the actual positions of the given stages: data proves where a point was taken."""

    def __init__(self, name: str, stages: list[RecordingStage], adapter: str = "", rows: int = 1):
        super().__init__(name, adapter)
        self.stages = stages
        self.rows = rows
        self.data_columns = np.array([f"at_{s.position_column}" for s in stages] or ["value"])
        self.data_units = np.array(["mm"] * len(self.data_columns))
        self.delay = 0.0
        #: Called before every reading with the number of readings taken so far.
        self.before_reading: Callable[[int], None] | None = None
        #: Called after every reading (its delay included) with the same number.
        self.after_reading: Callable[[int], None] | None = None
        self.readings = 0
        self.fail_on_reading: int | None = None
        self._define_settings({"gain": 1.0}, schema={"gain": {"type": "number", "minimum": 0}})

    def perform_measurement(self) -> np.ndarray:
        if self.before_reading is not None:
            self.before_reading(self.readings)
        if self.fail_on_reading == self.readings:
            raise RuntimeError(f"{self.name} lost its signal")
        if self.delay:
            time.sleep(self.delay)
        if self.after_reading is not None:
            self.after_reading(self.readings)
        self.readings += 1
        values = [s.position for s in self.stages] or [float(self.readings)]
        return np.tile(np.array(values, dtype=float), (self.rows, 1))


class Recorder(ScanExtension):
    """Keeps every batch and every hook call, and notices overlapping save_data calls."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pd.DataFrame]] = {}
        self.calls: list[str] = []
        self.rows_at_pause: list[int] = []
        self.overlaps = 0
        self.batch_delay = 0.0
        self._busy = threading.Lock()

    def save_data(self, df: pd.DataFrame, measurement_name: str) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            self._busy.acquire()
        try:
            if self.batch_delay:
                time.sleep(self.batch_delay)
            self.batches.setdefault(measurement_name, []).append(df)
        finally:
            self._busy.release()

    def frame(self, name: str) -> pd.DataFrame:
        """All rows of one measurement, in delivery order."""
        return pd.concat(self.batches.get(name, []), ignore_index=True)

    def row_count(self) -> int:
        return sum(len(df) for frames in self.batches.values() for df in frames)

    def startup(self) -> None:
        self.calls.append("startup")

    def execute(self) -> None:
        self.calls.append("execute")

    def on_pause(self) -> None:
        self.calls.append("on_pause")
        self.rows_at_pause.append(self.row_count())

    def on_resume(self) -> None:
        self.calls.append("on_resume")

    def on_complete(self) -> None:
        self.calls.append("on_complete")

    def on_abort(self) -> None:
        self.calls.append("on_abort")

    def on_error(self, exc: BaseException) -> None:
        self.calls.append(f"on_error:{type(exc).__name__}")

    def shutdown(self) -> None:
        self.calls.append("shutdown")


class Exploding(ScanExtension):
    """Raises in one hook; critical or not as asked."""

    def __init__(self, hook: str, critical: bool) -> None:
        self.hook = hook
        self.critical = critical  # type: ignore[misc]
        self.batches = 0

    def save_batch(self, batch: DataBatch) -> None:
        self.batches += 1
        if self.hook == "save_data":
            raise OSError("disk full")

    def startup(self) -> None:
        if self.hook == "startup":
            raise OSError("cannot open the data file")

    def on_abort(self) -> None:
        if self.hook == "on_abort":
            raise OSError("cannot mark the scan aborted")
