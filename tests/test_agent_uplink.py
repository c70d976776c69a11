"""The agent's uplink numbers its events per connection, so the server can keep their order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from pybirch.agent import uplink as uplink_module
from pybirch.agent.uplink import Uplink
from pybirch.realtime.agent_protocol import EVENT, SEQ
from pybirch.realtime.events import ScanStatus


class FakeClient:
    """A Socket.IO client whose server is the test: it connects and drops when told to."""

    made: list[FakeClient] = []

    def __init__(self, **_options: Any) -> None:
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.connected = False
        self._lock = threading.Lock()
        FakeClient.made.append(self)

    def on(self, name: str, handler: Callable[..., Any], namespace: str | None = None) -> None:
        self.handlers[name] = handler

    def connect(self, *_args: Any, **_options: Any) -> None:
        self.come_back()

    def come_back(self) -> None:
        """The server is reachable (again): a new connection."""
        self.connected = True
        self.handlers["connect"]()

    def drop(self) -> None:
        """The server went away."""
        self.connected = False
        self.handlers["disconnect"]("transport close")

    def disconnect(self) -> None:
        self.drop()

    def emit(self, name: str, payload: dict[str, Any], namespace: str | None = None) -> None:
        if not self.connected:
            raise socketio.exceptions.BadNamespaceError(f"{namespace} is not a connected namespace")
        with self._lock:
            self.sent.append((name, payload))

    def events(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(p["payload"]["status"], p[SEQ]) for name, p in self.sent if name == EVENT]


@pytest.fixture
def uplink(monkeypatch):
    FakeClient.made.clear()
    monkeypatch.setattr(uplink_module.socketio, "Client", FakeClient)
    link = Uplink("http://server", "pbc_token", on_connected=lambda: None, handlers={})
    yield link
    link.close()


def status(name: str) -> ScanStatus:
    return ScanStatus(scan_id="s1", status=name, progress=0.0)


def test_events_are_numbered_from_zero_on_each_connection(uplink):
    uplink.send(status("queued"))  # before the first connection: kept
    uplink.start()
    assert uplink.connected.wait(timeout=30)
    (client,) = FakeClient.made
    uplink.send(status("running"))

    client.drop()
    uplink.send(status("paused"))  # while the server is away: kept
    client.come_back()
    assert uplink.connected.wait(timeout=30)
    uplink.send(status("running again"))

    assert client.events() == [
        ("queued", 0),
        ("running", 1),
        ("paused", 0),
        ("running again", 1),
    ]
