"""Which errors mean that an instrument stopped answering, rather than that it misbehaved.

A scan pauses on these and waits for the instrument to be reconnected (see
:mod:`pybirch.scan.instrument_loss`); every other error fails the scan. They are:

* :class:`~pybirch.instruments.errors.InstrumentDisconnectedError`, raised by a driver that
  notices the loss itself;
* :class:`OSError` and its kinds (:class:`ConnectionError`, :class:`TimeoutError`, a serial
  port's ``SerialException``, PyVISA's ``LibraryError``): the adapter's own I/O failing;
* PyVISA's ``InvalidSession`` (the session is gone) and a ``VisaIOError`` whose code says the
  link failed: a timeout, a lost connection, an I/O error, no listeners, a resource that is
  no longer there. Other VISA codes (a parameter the instrument refuses...) are errors;
* an :class:`~pybirch.instruments.errors.InstrumentError` a driver raised *from* one of these.
"""

from __future__ import annotations

import pyvisa.errors
from pyvisa.constants import StatusCode

from pybirch.instruments.errors import InstrumentDisconnectedError, InstrumentError

#: VISA status codes that mean the link to the instrument failed.
LINK_FAILURES = frozenset(
    {
        StatusCode.error_timeout,
        StatusCode.error_connection_lost,
        StatusCode.error_io,
        StatusCode.error_invalid_object,
        StatusCode.error_resource_not_found,
        StatusCode.error_no_listeners,
        StatusCode.error_system_error,
        StatusCode.error_closing_failed,
    }
)


def is_connection_loss(error: BaseException) -> bool:
    """Whether ``error`` says an instrument stopped answering (see the module docstring)."""
    if isinstance(error, InstrumentDisconnectedError | OSError | pyvisa.errors.InvalidSession):
        return True
    if isinstance(error, pyvisa.errors.VisaIOError):
        return error.error_code in LINK_FAILURES
    # a driver's own error wrapping the I/O failure (``raise InstrumentError(...) from exc``)
    cause = error.__cause__
    return isinstance(error, InstrumentError) and cause is not None and is_connection_loss(cause)
