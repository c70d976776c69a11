"""Instrument base classes: what the scan engine talks to, and what driver authors fill in.

Two layers, both kept under the names PyBirch drivers have always used:

* :class:`Measurement` and :class:`Movement` are the contracts the engine depends on:
  ``perform_measurement()`` returns a 2-D array (one row per reading, one column per
  ``data_columns`` entry); ``position`` is read and assigned.
* :class:`BaseMeasurementInstrument` and :class:`BaseMovementInstrument` are templates for
  driver authors, who implement ``_connect_impl``, ``_initialize_impl``,
  ``_shutdown_impl`` and ``_perform_measurement_impl`` (or the ``position`` property),
  and declare settings with ``_define_settings({...})``.

Every concrete subclass registers itself by import path, so a serialized instrument can be
rebuilt without importing arbitrary code (see :mod:`pybirch.instruments.registry`).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pybirch.instruments.confinement import checked_adapter, confine_if_stored, is_confined
from pybirch.instruments.errors import (
    IdentificationPatternError,
    InstrumentConnectionError,
    MovementLimitError,
)
from pybirch.instruments.registry import register_instrument_class
from pybirch.instruments.settings import SettingsMixin

if TYPE_CHECKING:
    import pandas as pd


class Instrument(SettingsMixin, ABC):
    """Anything a scan connects to, configures and shuts down."""

    #: "measurement" or "movement"; set by the two contracts below.
    kind: ClassVar[str] = ""

    #: Regular expression searched in the instrument's ``*IDN?`` answer; None for a driver
    #: that cannot tell its instrument by that answer. Discovery proposes this driver for a
    #: resource whose answer matches (see :func:`pybirch.instruments.identification.match_driver`).
    identification: ClassVar[str | None] = None

    def __init__(self, name: str, adapter: str = "") -> None:
        #: Human name; also names the measurement's data in a scan.
        self.name = name
        #: True once :meth:`connect` succeeded, False after :meth:`shutdown`.
        self.status = False
        self._adapter = ""
        self._settings_defaults = {}
        self._settings_schema = None
        if adapter:
            self.adapter = adapter

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        confine_if_stored(cls)
        # a bad pattern fails where the class is written, not later in every discovery scan;
        # getattr, because a mixin that is no Instrument may carry the pattern
        pattern = getattr(cls, "identification", None)
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise IdentificationPatternError(
                    f"{cls.__qualname__}.identification = {pattern!r} is not a regular "
                    f"expression: {exc}"
                ) from exc
        register_instrument_class(cls)

    def __repr__(self) -> str:
        adapter = f" adapter={self.adapter!r}" if self.adapter else ""
        return f"<{type(self).__name__} {self.name!r}{adapter}>"

    @property
    def adapter(self) -> str:
        """Where the instrument is attached (a VISA resource name, a port...)."""
        return self._adapter

    @adapter.setter
    def adapter(self, value: str) -> None:
        if is_confined(self):
            value = checked_adapter(self, value)
        old, self._adapter = self._adapter, value or ""
        if old != self._adapter:
            self._adapter_changed()

    def _adapter_changed(self) -> None:
        """Hook for instruments that hold an open connection to their adapter."""

    @property
    def resource_key(self) -> str:
        """Identifies the physical device: instruments with equal keys never run at once."""
        return f"adapter:{self._adapter}" if self._adapter else f"instance:{id(self):x}"

    def connect(self) -> bool:
        """Open the connection; return whether the instrument answered."""
        self.status = True
        return True

    def check_connection(self) -> bool:
        """Whether the instrument answers now; asked by the station's health monitor.

        Only instruments no scan is using are asked, so a check never interrupts a reading.
        Without I/O of its own to ask (a simulated instrument), this is :meth:`connect`'s
        handshake; VISA instruments ask ``*IDN?``. Errors propagate: the monitor tells a
        lost link (:func:`~pybirch.instruments.connection_loss.is_connection_loss`) from a
        failure.
        """
        return self.connect()

    def reconnect(self) -> bool:
        """Drop the link to the instrument and open it again; return whether it answered.

        Used by the station's health monitor after the instrument stopped answering; a
        scan that was using it then initializes it again before it resumes.
        """
        return self.connect()

    def initialize(self) -> None:
        """Put the instrument in a known state before a scan."""

    def shutdown(self) -> None:
        """Leave the instrument safe and release it."""
        self.status = False

    def connect_or_raise(self) -> None:
        """Connect, raising :class:`InstrumentConnectionError` if the instrument does not answer."""
        if not self.connect():
            where = f" at {self.adapter!r}" if self.adapter else ""
            raise InstrumentConnectionError(f"did not answer{where}", self.name)

    def serialize(self) -> dict[str, Any]:
        """Describe the instrument: class, name, adapter, columns, units and settings."""
        return {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "pybirch_class": type(self).__name__,
            "type": self.kind,
            "name": self.name,
            "adapter": self.adapter,
            "settings": _jsonable(self.settings),
        }


class Measurement(Instrument):
    """An instrument that reads values: ``perform_measurement()`` returns rows x columns."""

    kind = "measurement"

    def __init__(self, name: str, adapter: str = "") -> None:
        super().__init__(name, adapter)
        #: Names of the columns ``perform_measurement`` returns.
        self.data_columns: np.ndarray = np.array([], dtype=str)
        #: Unit of each column, in the same order.
        self.data_units: np.ndarray = np.array([], dtype=str)

    @abstractmethod
    def perform_measurement(self) -> np.ndarray:
        """Take one reading: a 2-D array, one column per ``data_columns`` entry."""

    def columns(self) -> list[str]:
        """Column labels as ``name (unit)``."""
        return [column_label(c, u) for c, u in zip(self.data_columns, self.data_units, strict=True)]

    def measurement_df(self) -> pd.DataFrame:
        """Take one reading and return it as a DataFrame with labelled columns."""
        import pandas as pd  # on first use: importing pandas costs a lab computer's start-up

        return pd.DataFrame(np.atleast_2d(self.perform_measurement()), columns=self.columns())

    def serialize(self) -> dict[str, Any]:
        """Describe the instrument, including its data columns and units."""
        return {
            **super().serialize(),
            "data_columns": [str(c) for c in self.data_columns],
            "data_units": [str(u) for u in self.data_units],
        }


class Movement(Instrument):
    """An instrument with a position: a stage, a source, a temperature controller."""

    kind = "movement"

    def __init__(self, name: str, adapter: str = "") -> None:
        super().__init__(name, adapter)
        #: Name of the position column this movement contributes to every row.
        self.position_column: str = "position"
        #: Unit of the position.
        self.position_units: str = ""
        #: Known (lowest, highest) positions, or None when unknown; checked before a scan.
        self.limits: tuple[float, float] | None = None

    @property
    @abstractmethod
    def position(self) -> float:
        """The current position."""

    @position.setter
    @abstractmethod
    def position(self, value: float) -> None:
        """Move to ``value`` and return when the move is done."""

    def position_label(self) -> str:
        """Column label of the position, as ``name (unit)``."""
        return column_label(self.position_column, self.position_units)

    def check_positions(self, positions: Sequence[float] | np.ndarray) -> None:
        """Raise :class:`MovementLimitError` if any position is NaN or outside ``limits``."""
        values = np.asarray(positions, dtype=float)
        if np.isnan(values).any():
            raise MovementLimitError("positions contain NaN", self.name)
        if self.limits is None:
            return
        low, high = self.limits
        outside = values[(values < low) | (values > high)]
        if outside.size:
            raise MovementLimitError(
                f"position {outside[0]:g} {self.position_units} is outside the limits "
                f"[{low:g}, {high:g}]".replace("  ", " "),
                self.name,
            )

    def serialize(self) -> dict[str, Any]:
        """Describe the instrument, including its position column, units and limits."""
        return {
            **super().serialize(),
            "position_column": self.position_column,
            "position_units": self.position_units,
            "limits": list(self.limits) if self.limits is not None else None,
        }


class _TemplateMixin:
    """Public lifecycle calls that delegate to the driver author's ``_impl`` hooks."""

    status: bool

    def _connect_impl(self) -> bool:
        """Override with the instrument's handshake; return whether it answered."""
        return True

    def _initialize_impl(self) -> None:
        """Override with the instrument's initialization sequence."""

    def _shutdown_impl(self) -> None:
        """Override with the commands that leave the instrument safe."""

    def connect(self) -> bool:
        """Connect through ``_connect_impl``."""
        self.status = bool(self._connect_impl())
        return self.status

    def initialize(self) -> None:
        """Initialize through ``_initialize_impl``."""
        self._initialize_impl()

    def shutdown(self) -> None:
        """Shut down through ``_shutdown_impl``."""
        try:
            self._shutdown_impl()
        finally:
            self.status = False


class BaseMeasurementInstrument(_TemplateMixin, Measurement):
    """Template for measurement drivers: implement ``_perform_measurement_impl``."""

    @abstractmethod
    def _perform_measurement_impl(self) -> np.ndarray:
        """Return one reading as a 2-D array, one column per ``data_columns`` entry."""

    def perform_measurement(self) -> np.ndarray:
        """Take one reading through ``_perform_measurement_impl``."""
        return self._perform_measurement_impl()


class BaseMovementInstrument(_TemplateMixin, Movement):
    """Template for movement drivers: implement the ``position`` property."""


def column_label(name: str, unit: str) -> str:
    """The ``name (unit)`` label PyBirch uses for every data column."""
    return f"{name} ({unit})" if unit else str(name)


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars and arrays inside settings into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
