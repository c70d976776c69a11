"""Text I/O for SCPI drivers: queries and writes that fail with :class:`InstrumentError`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvisa.errors

from pybirch.instruments.connection_loss import is_connection_loss
from pybirch.instruments.errors import InstrumentDisconnectedError, InstrumentError

#: What a VISA read or write raises when the instrument is silent, gone, or answers bytes
#: that are not text.
_IO_ERRORS = (pyvisa.errors.Error, UnicodeDecodeError)


def parse_float(text: str, what: str, instrument: str | None = None) -> float:
    """``text`` as a float, or :class:`InstrumentError` naming ``what`` was being read."""
    stripped = text.strip()
    if not stripped:
        raise InstrumentError(f"empty answer while reading {what}", instrument)
    try:
        return float(stripped)
    except ValueError:
        raise InstrumentError(
            f"cannot read {what}: {stripped!r} is not a number", instrument
        ) from None


def parse_floats(text: str, count: int, what: str, instrument: str | None = None) -> list[float]:
    """A comma-separated answer of exactly ``count`` numbers."""
    fields = text.strip().split(",")
    if len(fields) != count or not text.strip():
        raise InstrumentError(
            f"cannot read {what}: expected {count} comma-separated numbers, got {text.strip()!r}",
            instrument,
        )
    return [parse_float(field, what, instrument) for field in fields]


class ScpiMixin:
    """Checked open, ``query_text``, ``query_float`` and ``write_command`` for SCPI drivers."""

    name: str
    adapter: str
    backend: str
    instrument: Any
    #: Provided by :class:`~pybirch.instruments.visa.VisaResourceMixin`.
    require_resource: Callable[[], Any]

    def query_text(self, command: str) -> str:
        """Send ``command`` and return the answer, stripped; an empty answer is an error."""
        resource = self.require_resource()
        try:
            answer = resource.query(command)
        except _IO_ERRORS as exc:
            raise _io_error(exc)(
                f"no valid answer to {command!r} from {self.adapter!r}: {exc}", self.name
            ) from exc
        answer = answer.strip()
        if not answer:
            raise InstrumentError(f"empty answer to {command!r} from {self.adapter!r}", self.name)
        return answer

    def query_float(self, command: str) -> float:
        """Send ``command`` and read one number."""
        return parse_float(self.query_text(command), repr(command), self.name)

    def query_floats(self, command: str, count: int) -> list[float]:
        """Send ``command`` and read ``count`` comma-separated numbers."""
        return parse_floats(self.query_text(command), count, repr(command), self.name)

    def write_command(self, command: str) -> None:
        """Send ``command``, which has no answer."""
        resource = self.require_resource()
        try:
            resource.write(command)
        except _IO_ERRORS as exc:
            raise _io_error(exc)(
                f"cannot send {command!r} to {self.adapter!r}: {exc}", self.name
            ) from exc


def _io_error(cause: Exception) -> type[InstrumentError]:
    """InstrumentDisconnectedError if the link failed (a scan pauses), else InstrumentError."""
    return InstrumentDisconnectedError if is_connection_loss(cause) else InstrumentError
