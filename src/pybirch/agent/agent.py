"""The agent: a lab computer's station, run for the browser and reported to the server.

``pybirch agent --server URL --token TOKEN`` makes one. It connects out to the server,
registers its computer, instruments and queues, and lets the server reach its
:class:`~pybirch.station.Station`: build the scans the browser designs, start, pause,
resume and abort. It measures on whether or not the server is there; live events wait for
it in the uplink.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from pybirch.agent.server_database import ServerDatabase
from pybirch.agent.uplink import Uplink
from pybirch.database import DatabaseService
from pybirch.definitions import get_computer_info
from pybirch.errors import PyBirchError
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.realtime.agent_protocol import (
    APPLY_SETTINGS,
    CONTROL,
    ENQUEUE,
    FIND_INSTRUMENTS,
    LOAD_INSTRUMENTS,
    MEASURE_INSTRUMENT,
    MOVE_INSTRUMENT,
    REGISTER,
)
from pybirch.station import Station, StationIdentity
from pybirch.station.wire import (
    answer_apply_settings,
    answer_control,
    answer_enqueue,
    answer_find,
    answer_load,
    answer_measure,
    answer_move,
)

log = logging.getLogger(__name__)

#: Seconds a request waits for the first registration (less than the server waits for us).
REGISTRATION_WAIT = 8.0


class AgentError(PyBirchError):
    """A request the agent cannot carry out; the message says why."""


class Agent:
    """Runs this computer's station for the server it connects to."""

    def __init__(
        self,
        server_url: str,
        token: str,
        db: DatabaseService | ServerDatabase,
        instruments: InstrumentSet | None = None,
        *,
        prepare: Callable[[Station], None] | None = None,
    ) -> None:
        """``instruments`` are offered besides those bound to this computer; ``prepare``
        runs once the server has said which computer this is, before they load."""
        self.db = db
        self.station = Station(db, instruments)
        self._prepare = prepare
        self._ready = threading.Event()
        self.uplink = Uplink(
            server_url,
            token,
            on_connected=self._register,
            handlers={
                ENQUEUE: self._when_registered(answer_enqueue),
                CONTROL: self._when_registered(answer_control),
                FIND_INSTRUMENTS: self._when_registered(answer_find),
                LOAD_INSTRUMENTS: self._when_registered(answer_load),
                MOVE_INSTRUMENT: self._when_registered(answer_move),
                MEASURE_INSTRUMENT: self._when_registered(answer_measure),
                APPLY_SETTINGS: self._when_registered(answer_apply_settings),
            },
        )
        self.station.bus.subscribe(self.uplink.send)
        self.station.on_change(self._announce)

    @property
    def registration(self) -> StationIdentity | None:
        """Who the server says this computer is (None until it has said)."""
        return self.station.identity

    @property
    def instruments(self) -> InstrumentSet:
        """The instruments this computer offers."""
        return self.station.instruments

    def start(self) -> None:
        """Connect to the server (in the background) and serve its requests."""
        self.uplink.start()

    def close(self, timeout: float = 30.0) -> None:
        """Abort what runs, store every point, and disconnect."""
        self.station.close(timeout)
        self.uplink.close()

    # -- requests from the server ------------------------------------------------------

    def _when_registered(
        self, answer: Callable[[Station, Any], dict[str, Any]]
    ) -> Callable[[Any], dict[str, Any]]:
        """A handler that answers once this computer knows who it is, or says it does not."""

        def handler(message: Any) -> dict[str, Any]:
            if not self._registered():
                why = "this computer has not registered with the server yet"
                return {"ok": False, "error": why, "errors": {"computer": why}}
            return answer(self.station, message)

        return handler

    # -- registration ------------------------------------------------------------------

    def _registered(self) -> bool:
        # A request may come while the first registration still takes back old queues.
        return self._ready.wait(REGISTRATION_WAIT) and self.station.identity is not None

    def _register(self) -> None:
        """Tell the server who we are; then bring its picture of our queues up to date."""
        reply = self.uplink.request(REGISTER, self._registration_message())
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise AgentError(f"the server refused the registration: {reply!r}")
        identity = StationIdentity(
            int(reply["computer_id"]), str(reply["name"]), int(reply["lab_id"])
        )
        if self.station.identity is None:  # the first time: requests wait until this is done
            self._open_station(identity)
            self.uplink.request(REGISTER, self._registration_message())  # with what it found
        self._ready.set()
        for event in self.station.current_events():
            self.uplink.send(event)

    def _registration_message(self) -> dict[str, Any]:
        return {
            "computer": {**get_computer_info(), "pid": os.getpid()},
            "instruments": [info.to_dict() for info in self.station.catalogue()],
            "queues": [summary.to_dict() for summary in self.station.queues()],
        }

    def _announce(self) -> None:
        if self.station.identity is not None:
            self.uplink.notify(REGISTER, self._registration_message())

    def _open_station(self, identity: StationIdentity) -> None:
        """Load this computer's bound instruments, record the others, take back its queues."""
        self.station.identity = identity
        if self._prepare is not None:
            self._prepare(self.station)
        offered = self.station.instruments.all()
        loaded = self.station.discover()
        self.station.register_offered(offered)
        log.info(
            "computer %r: %d bound instrument(s) connected, %d not; %d offered besides",
            identity.name,
            len(loaded.instruments),
            len(loaded.failures),
            len(offered),
        )
        taken = self.station.adopt()
        if taken:
            log.info("took back %d queue(s) this computer had open when it stopped", taken)
