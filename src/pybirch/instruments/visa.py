"""Instruments that talk SCPI through PyVISA.

The resource opens as soon as an adapter is assigned, at construction or later, and is
reachable to the driver as ``self.instrument`` (the name PyBirch drivers use). The VISA
backend is chosen per instrument (``backend="@sim"``, ``"/abs/path/devices.yaml@sim"``,
``"@py"``, or ``""`` for the system's VISA library); the default comes from the
``PYBIRCH_VISA_BACKEND`` environment variable.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pyvisa
import pyvisa.errors

from pybirch.configuration import current_config
from pybirch.instruments.base import (
    BaseMeasurementInstrument,
    BaseMovementInstrument,
    Measurement,
    Movement,
)
from pybirch.instruments.confinement import (
    StoredResource,
    checked_backend,
    is_confined,
    refuse_backend_change,
)
from pybirch.instruments.errors import AdapterError, InstrumentConnectionError

log = logging.getLogger(__name__)

_managers: dict[str, pyvisa.ResourceManager] = {}
_managers_lock = threading.Lock()


def default_backend() -> str:
    """The VISA backend used when an instrument names none (``PYBIRCH_VISA_BACKEND``)."""
    return current_config().visa_backend


def resource_manager(backend: str = "") -> pyvisa.ResourceManager:
    """One shared :class:`pyvisa.ResourceManager` per backend for the whole process."""
    with _managers_lock:
        manager = _managers.get(backend)
        if manager is None:
            try:
                manager = pyvisa.ResourceManager(backend) if backend else pyvisa.ResourceManager()
            except (OSError, ValueError, pyvisa.errors.Error) as exc:
                raise AdapterError(f"cannot load VISA backend {backend!r}: {exc}") from exc
            _managers[backend] = manager
        return manager


class VisaResourceMixin:
    """Opens ``self.instrument`` whenever the adapter changes; closes it on shutdown.

    Placed before an instrument base class: ``connect`` opens the resource before the
    base's connect (a driver's ``_connect_impl`` handshake), ``shutdown`` closes it after.
    """

    name: str
    adapter: str
    status: bool

    #: I/O timeout of the resource, in milliseconds.
    timeout_ms: int = 2000
    read_termination: str | None = "\n"
    write_termination: str | None = "\n"

    def __init__(self, name: str, adapter: str = "", backend: str | None = None) -> None:
        #: The PyVISA resource (a :class:`StoredResource` view of it for a driver made from
        #: stored code), or None while no adapter is assigned.
        self.instrument: Any = None
        self._visa_resource: Any = None
        if is_confined(self):
            self._visa_backend = checked_backend(self, backend, default_backend())
        else:
            self._visa_backend = default_backend() if backend is None else backend
        super().__init__(name, adapter)  # type: ignore[call-arg]

    @property
    def backend(self) -> str:
        """The PyVISA backend (``"@sim"``, ``"@py"``, ...); empty for the system library."""
        return self._visa_backend

    @backend.setter
    def backend(self, value: str) -> None:
        if is_confined(self):
            refuse_backend_change(self, value)
        self._visa_backend = value

    def connect(self) -> bool:
        """Open the resource, then connect through the instrument's base class."""
        self.require_resource()
        return super().connect()  # type: ignore[misc]

    def shutdown(self) -> None:
        """Shut down through the instrument's base class, then close the resource."""
        try:
            super().shutdown()  # type: ignore[misc]
        finally:
            self.close_resource()

    def check_connection(self) -> bool:
        """Whether it answers ``*IDN?`` (a closed resource is opened for it, then closed again)."""
        opened_here = self._visa_resource is None
        self.require_resource()
        try:
            return bool(self._visa_resource.query("*IDN?").strip())
        finally:
            if opened_here:
                self.close_resource()

    def reconnect(self) -> bool:
        """Close the VISA session, open a new one and connect (the driver's handshake)."""
        self.close_resource()
        return self.connect()

    def _adapter_changed(self) -> None:
        self.close_resource()
        if self._adapter:  # type: ignore[attr-defined]
            self.open_resource()

    def open_resource(self) -> None:
        """Open the VISA resource named by ``adapter``."""
        # the private values: a driver made from stored code may override the public names
        manager = resource_manager(self._visa_backend)
        try:
            resource = manager.open_resource(self._adapter)  # type: ignore[attr-defined]
        except (pyvisa.errors.Error, OSError, ValueError) as exc:
            raise self._adapter_error(manager, str(exc)) from exc
        if not resource.session:
            # pyvisa-sim reports a missing resource only through a status PyVISA does not
            # check and hands back the null session; a real VISA library raises instead.
            raise self._adapter_error(manager, "no such resource")
        resource.timeout = self.timeout_ms
        if self.read_termination is not None:
            resource.read_termination = self.read_termination
        if self.write_termination is not None:
            resource.write_termination = self.write_termination
        self._visa_resource = resource
        self.instrument = StoredResource(resource) if is_confined(self) else resource

    def _adapter_error(self, manager: pyvisa.ResourceManager, reason: str) -> AdapterError:
        available = ", ".join(manager.list_resources()) or "none"
        return AdapterError(
            f"cannot open {self._adapter!r} on VISA backend "  # type: ignore[attr-defined]
            f"{self._visa_backend or 'default'!r}: "
            f"{reason} (available resources: {available})",
            self.name,
        )

    def close_resource(self) -> None:
        """Close the VISA resource if one is open."""
        resource, self._visa_resource, self.instrument = self._visa_resource, None, None
        if resource is None:
            return
        try:
            resource.close()
        except (pyvisa.errors.Error, OSError) as exc:
            log.warning("%s: closing %s failed: %s", self.name, self.adapter, exc)

    def require_resource(self) -> Any:
        """The open resource, reopened if needed; raises if no adapter is assigned."""
        if self.instrument is None:
            if not self._adapter:  # type: ignore[attr-defined]
                raise InstrumentConnectionError("no adapter assigned", self.name)
            self.open_resource()
        return self.instrument


class VisaMeasurement(VisaResourceMixin, Measurement):
    """A measurement over VISA whose driver implements the public methods itself."""


class VisaMovement(VisaResourceMixin, Movement):
    """A movement over VISA whose driver implements the public methods itself."""


class VisaBaseMeasurementInstrument(VisaResourceMixin, BaseMeasurementInstrument):
    """Template for SCPI measurement drivers: ``self.instrument`` is the open resource."""


class VisaBaseMovementInstrument(VisaResourceMixin, BaseMovementInstrument):
    """Template for SCPI movement drivers: ``self.instrument`` is the open resource."""
