"""Exceptions raised by instruments and their drivers."""

from __future__ import annotations

from pybirch.errors import PyBirchError


class InstrumentError(PyBirchError):
    """An instrument failed or was used wrongly; ``instrument`` names it."""

    def __init__(self, message: str, instrument: str | None = None) -> None:
        super().__init__(f"{instrument}: {message}" if instrument else message)
        #: Name of the instrument the error is about, if known.
        self.instrument = instrument


class InstrumentConnectionError(InstrumentError):
    """The instrument could not be reached or did not identify itself."""


class AdapterError(InstrumentConnectionError):
    """The adapter (a VISA resource name) could not be opened."""


class InstrumentDisconnectedError(InstrumentConnectionError):
    """A connected instrument stopped answering (unplugged, switched off, link lost).

    A driver raises it when it notices the loss itself; a scan pauses on it and waits for
    the station to reconnect the instrument (see :mod:`pybirch.scan.instrument_loss`).
    """


class SettingsError(InstrumentError):
    """A setting could not be applied."""


class UnknownSettingError(SettingsError, KeyError):
    """A setting name the instrument does not declare."""

    __str__ = Exception.__str__  # KeyError would quote the message


class InvalidSettingError(SettingsError, ValueError):
    """A setting value the instrument's schema rejects."""


class MovementLimitError(InstrumentError, ValueError):
    """A movement was asked to go outside its limits."""


class MeasurementShapeError(InstrumentError, ValueError):
    """A measurement returned data that does not match its declared columns."""


class IdentificationPatternError(InstrumentError, ValueError):
    """A driver class declares an ``identification`` that is not a valid regular expression."""


class DriverFilesError(InstrumentError):
    """A folder of driver files could not be read (a bad file is reported, not raised)."""
