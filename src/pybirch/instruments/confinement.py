"""What an instrument made from stored (database) code may not choose for itself.

A driver class loaded from the database is *confined*: every class created in a module
named ``pybirch_definition_...`` (the sandbox runs stored code under such a name, which
stored code cannot change) is marked when its class statement runs, before stored code
can build an instance (:func:`confine_if_stored`); stored code cannot name ``_``
attributes, so it cannot unmark itself. For a
confined instrument, PyBirch's own code decides the values that give it power:

* the **adapter** (the VISA resource name: ``TCPIP0::host::...`` would open a socket) and
  the **VISA backend** (any string but ``@sim``/``@py`` is a library loaded through ctypes)
  come from the binding, through :func:`granting` around the constructor. A driver that
  passes or assigns another value gets :class:`ConfinementError`;
* ``self.instrument`` is a :class:`StoredResource`: the message-based calls a driver
  needs, and not the PyVISA resource, whose ``visalib`` is a ctypes library and whose
  ``resource_manager`` opens any resource.

PyBirch's own code reads the granted values from ``_`` attributes, which stored code can
neither read, write nor override in its class body.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pybirch.instruments.errors import AdapterError

#: Class attribute set on confined driver classes.
CONFINED_FLAG = "_pybirch_confined"

#: Stored code runs as modules named ``pybirch_definition_<id>_v<version>``.
STORED_MODULE_PREFIX = "pybirch_definition_"


class ConfinementError(AdapterError):
    """A confined instrument tried to choose its own adapter or VISA backend."""


@dataclass(frozen=True)
class ResourceGrant:
    """The adapter and VISA backend the binding (trusted) gives a confined instrument."""

    adapter: str = ""
    #: None: the process default (``PYBIRCH_VISA_BACKEND``).
    backend: str | None = None


_grant: ContextVar[ResourceGrant | None] = ContextVar("pybirch_resource_grant", default=None)


@contextlib.contextmanager
def granting(adapter: str = "", backend: str | None = None) -> Iterator[ResourceGrant]:
    """Let confined instruments built or re-bound inside the block take these values."""
    grant = ResourceGrant(adapter or "", backend)
    token = _grant.set(grant)
    try:
        yield grant
    finally:
        _grant.reset(token)


def confine_if_stored(cls: type) -> None:
    """Mark ``cls`` confined if stored code defined it (called as each class is created)."""
    if cls.__module__.startswith(STORED_MODULE_PREFIX):
        setattr(cls, CONFINED_FLAG, True)


def is_confined(instrument: object) -> bool:
    """Whether ``instrument`` (or class) was made from stored code."""
    return bool(getattr(instrument, CONFINED_FLAG, False))


def checked_adapter(instrument: Any, value: str) -> str:
    """``value`` if the binding granted it to ``instrument`` (or it is empty); else refuse."""
    grant = _grant.get()
    if not value or (grant is not None and value == grant.adapter):
        return value
    allowed = f"it is bound to {grant.adapter!r}" if grant and grant.adapter else "none is granted"
    raise ConfinementError(
        f"stored driver code cannot choose its adapter ({value!r}); {allowed}",
        getattr(instrument, "name", None),
    )


def checked_backend(instrument: Any, requested: str | None, default: str) -> str:
    """The VISA backend a confined instrument uses: the granted one, never its own choice."""
    grant = _grant.get()
    granted = default if grant is None or grant.backend is None else grant.backend
    if requested is not None and requested != granted:
        raise ConfinementError(
            f"stored driver code cannot choose the VISA backend ({requested!r}); the binding "
            f"gives {granted or 'the default'!r}",
            getattr(instrument, "name", None),
        )
    return granted


def refuse_backend_change(instrument: Any, value: object) -> None:
    """Refuse a confined instrument's assignment to ``backend``."""
    raise ConfinementError(
        f"stored driver code cannot choose the VISA backend ({value!r})",
        getattr(instrument, "name", None),
    )


class StoredResource:
    """The narrow view of a PyVISA resource a confined driver gets as ``self.instrument``."""

    __slots__ = ("_resource",)

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __repr__(self) -> str:
        return f"<resource {self._resource.resource_name!r}>"

    def query(self, message: str, delay: float | None = None) -> str:
        """Write ``message`` and read the answer."""
        return self._resource.query(str(message), delay)

    def write(self, message: str) -> int:
        """Write ``message``."""
        return self._resource.write(str(message))

    def read(self) -> str:
        """Read one message."""
        return self._resource.read()

    def read_raw(self, size: int | None = None) -> bytes:
        """Read raw bytes."""
        return self._resource.read_raw(size)

    def write_raw(self, message: bytes) -> int:
        """Write raw bytes."""
        return self._resource.write_raw(bytes(message))

    def query_ascii_values(self, message: str, **options: Any) -> Any:
        """Query and parse a list of numbers (PyVISA's options)."""
        return self._resource.query_ascii_values(str(message), **options)

    def query_binary_values(self, message: str, **options: Any) -> Any:
        """Query and parse a binary block of numbers (PyVISA's options)."""
        return self._resource.query_binary_values(str(message), **options)

    def write_ascii_values(self, message: str, values: Any, **options: Any) -> int:
        """Write ``message`` followed by numbers as text."""
        return self._resource.write_ascii_values(str(message), values, **options)

    def clear(self) -> None:
        """Clear the device's buffers."""
        self._resource.clear()

    def close(self) -> None:
        """Close the resource (PyBirch reopens it on the next connect)."""
        self._resource.close()

    @property
    def timeout(self) -> float | None:
        """I/O timeout in milliseconds."""
        return self._resource.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._resource.timeout = None if value is None else float(value)

    @property
    def read_termination(self) -> str:
        """Characters that end a read."""
        return self._resource.read_termination

    @read_termination.setter
    def read_termination(self, value: str) -> None:
        self._resource.read_termination = str(value)

    @property
    def write_termination(self) -> str:
        """Characters appended to every write."""
        return self._resource.write_termination

    @write_termination.setter
    def write_termination(self, value: str) -> None:
        self._resource.write_termination = str(value)
