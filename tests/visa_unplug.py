"""Unplugging a pyvisa-sim instrument: its reads, writes and opens fail as a real one's do."""

from __future__ import annotations

import threading

import pyvisa.highlevel
import pyvisa.resources
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError


class VisaPlug:
    """The plug of one simulated resource, pulled by a command and put back by the test or later.

    ``pull_on(command, occurrence)`` pulls it as that command is sent for the nth time (the
    command then fails with a lost connection, as every read and write does while it is out);
    opening the resource while out fails as for a resource that is not there. With
    ``back_after`` it is put back after that many refused opens (reconnection attempts).
    """

    def __init__(self, resource_name: str, monkeypatch) -> None:
        self.resource_name = resource_name
        self.out = False
        self.back_after: int | None = None
        self.refused_opens = 0
        self.sent: dict[str, int] = {}
        self._pull_on: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._patch(monkeypatch)

    def pull_on(self, command: str, occurrence: int) -> None:
        """Pull the plug when ``command`` is sent for the ``occurrence``-th time."""
        self._pull_on = (command, occurrence)

    def put_back(self) -> None:
        """Plug the instrument in again."""
        self.out = False

    def _patch(self, monkeypatch) -> None:
        plug = self
        write = pyvisa.resources.MessageBasedResource.write
        read = pyvisa.resources.MessageBasedResource.read
        open_resource = pyvisa.highlevel.ResourceManager.open_resource

        def unplugged_write(resource, message, *args, **kwargs):
            if resource.resource_name == plug.resource_name:
                plug._sending(message)
            return write(resource, message, *args, **kwargs)

        def unplugged_read(resource, *args, **kwargs):
            if resource.resource_name == plug.resource_name and plug.out:
                raise VisaIOError(StatusCode.error_connection_lost)
            return read(resource, *args, **kwargs)

        def unplugged_open(manager, name, *args, **kwargs):
            if name == plug.resource_name and plug._refuse_open():
                raise VisaIOError(StatusCode.error_resource_not_found)
            return open_resource(manager, name, *args, **kwargs)

        monkeypatch.setattr(pyvisa.resources.MessageBasedResource, "write", unplugged_write)
        monkeypatch.setattr(pyvisa.resources.MessageBasedResource, "read", unplugged_read)
        monkeypatch.setattr(pyvisa.highlevel.ResourceManager, "open_resource", unplugged_open)

    def _sending(self, message: str) -> None:
        with self._lock:
            count = self.sent[message] = self.sent.get(message, 0) + 1
            if self._pull_on == (message, count):
                self.out = True
            if self.out:
                raise VisaIOError(StatusCode.error_connection_lost)

    def _refuse_open(self) -> bool:
        with self._lock:
            if not self.out:
                return False
            if self.back_after is not None and self.refused_opens >= self.back_after:
                self.out = False
                return False
            self.refused_opens += 1
            return True
