"""Stations as the web reaches them: this server's own, or a lab computer's through its agent.

Every page and route that builds, lists or controls queues goes through
:class:`~pybirch.station.StationInterface`; whether the station runs in this process or
on a lab computer is decided here, once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app

from pybirch.database.models import Computer
from pybirch.database.models import Queue as QueueRecord
from pybirch.instruments.catalogue import InstrumentInfo
from pybirch.realtime.agent_protocol import (
    APPLY_SETTINGS,
    CONTROL,
    ENQUEUE,
    FIND_INSTRUMENTS,
    LOAD_INSTRUMENTS,
    MEASURE_INSTRUMENT,
    MOVE_INSTRUMENT,
)
from pybirch.station import (
    Action,
    Enqueued,
    EnqueueRequest,
    QueueSummary,
    Station,
    StationError,
    StationInterface,
)
from pybirch.station.manual_control import (
    MANUAL_TIMEOUT,
    ManualTarget,
    Moved,
    Reading,
    SettingsApplied,
)
from pybirch.station.requests import FoundInstruments, LoadSummary
from pybirch.station.wire import (
    applied_from_answer,
    enqueued_from_answer,
    found_from_answer,
    load_from_answer,
    moved_from_answer,
    reading_from_answer,
    state_from_answer,
)
from pybirch.web.agents import (
    AgentUnavailable,
    agent_instruments,
    agent_queues,
    ask_agent,
    online_computer,
    online_computers,
)

log = logging.getLogger(__name__)

STATION_KEY = "pybirch.station"

#: The builder's ``computer`` value that means this server itself.
THIS_SERVER = "local"

#: Seconds a lab computer may take to scan its VISA resources or load its instruments.
FIND_TIMEOUT = 30.0
#: Seconds the server waits for a manual action: the agent's own limit, and the way back.
MANUAL_REPLY_TIMEOUT = MANUAL_TIMEOUT + 5.0


def local_station() -> Station:
    """The station of the computer this server runs on."""
    return current_app.extensions[STATION_KEY]


class RemoteStation:
    """A lab computer's station, reached through its connected agent."""

    def __init__(self, computer: Computer) -> None:
        self.computer = computer

    @property
    def name(self) -> str:
        """The computer's name."""
        return self.computer.computer_name

    def enqueue(self, request: EnqueueRequest) -> Enqueued:
        """Ask the agent to build and queue the scan."""
        return enqueued_from_answer(self._ask(ENQUEUE, request.to_dict()))

    def control(self, queue_id: int, action: Action | str, scan_id: str | None = None) -> str:
        """Ask the agent to act on one of its queues or scans."""
        word = (Action.for_queue if scan_id is None else Action.for_scan)(action).value
        message = {"queue_id": queue_id, "scan_id": scan_id, "action": word}
        return state_from_answer(self._ask(CONTROL, message))

    def queues(self, lab_id: int | None = None) -> list[QueueSummary]:
        """The queues the agent last reported."""
        summaries = [
            QueueSummary(int(q["id"]), str(q["name"]), str(q["state"]), self.computer.lab_id)
            for q in agent_queues(self.computer)
        ]
        return [s for s in summaries if lab_id is None or s.lab_id == lab_id]

    def catalogue(self) -> list[InstrumentInfo]:
        """The instruments the agent last reported."""
        return agent_instruments(self.computer)

    def find_instruments(self) -> FoundInstruments:
        """Ask the agent for a VISA resource scan of its computer."""
        return found_from_answer(self._ask(FIND_INSTRUMENTS, {}, timeout=FIND_TIMEOUT))

    def load_bound(self) -> LoadSummary:
        """Ask the agent to load the instruments bound to its computer since it last did."""
        return load_from_answer(self._ask(LOAD_INSTRUMENTS, {}, timeout=FIND_TIMEOUT))

    def move(self, target: ManualTarget, position: float) -> Moved:
        """Ask the agent to move one of its movement instruments."""
        message = {"instrument": target.to_dict(), "position": position}
        return moved_from_answer(self._ask(MOVE_INSTRUMENT, message, MANUAL_REPLY_TIMEOUT))

    def measure_once(self, target: ManualTarget) -> Reading:
        """Ask the agent for one reading of one of its measurement instruments."""
        message = {"instrument": target.to_dict()}
        return reading_from_answer(self._ask(MEASURE_INSTRUMENT, message, MANUAL_REPLY_TIMEOUT))

    def apply_settings(self, target: ManualTarget, settings: dict[str, Any]) -> SettingsApplied:
        """Ask the agent to set settings on one of its instruments and write them back."""
        message = {"instrument": target.to_dict(), "settings": settings}
        return applied_from_answer(self._ask(APPLY_SETTINGS, message, MANUAL_REPLY_TIMEOUT))

    def _ask(self, event: str, message: dict, timeout: float | None = None) -> dict:
        try:
            return ask_agent(self.computer, event, message, timeout)
        except AgentUnavailable as exc:
            raise StationError(str(exc)) from exc


def chosen_station(lab_id: int, choice: str | None) -> StationInterface:
    """The station the builder's ``computer`` field names, for a lab (StationError if gone)."""
    if not choice or choice == THIS_SERVER:
        return local_station()
    computer = online_computer(lab_id, int(choice)) if choice.isdigit() else None
    if computer is None:
        raise StationError("that computer is not connected")
    return RemoteStation(computer)


def station_running(record: QueueRecord) -> StationInterface | None:
    """The station that runs a queue now, if any is there to obey (None otherwise)."""
    station = local_station()
    if station.runs(record.id):
        return station
    computer_id = (record.extra_data or {}).get("computer_id")
    if computer_id is None or computer_id == _local_computer_id(station):
        return None
    computer = online_computer(record.lab_id, int(computer_id))
    return None if computer is None else RemoteStation(computer)


def renew_drivers(lab_id: int) -> dict[str, str]:
    """Have every station serving a lab load newly approved drivers now; what failed, where.

    Stations also renew before each scan they build; this makes an approval show on the
    instrument pages at once. An instrument a scan holds keeps its version until it ends.
    """
    stations: list[StationInterface] = [local_station()]
    stations += [RemoteStation(computer) for computer in online_computers(lab_id)]
    problems: dict[str, str] = {}
    for station in stations:
        try:
            summary = station.load_bound()
        except StationError as exc:
            log.warning("%s did not renew its drivers: %s", station.name, exc)
            problems[station.name] = str(exc)
            continue
        problems.update({f"{name} on {station.name}": why for name, why in summary.failed.items()})
    return problems


def renew_drivers_soon(lab_id: int) -> None:
    """:func:`renew_drivers` in the background, so an approval does not wait on agents."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def renew() -> None:
        with app.app_context():
            try:
                problems = renew_drivers(lab_id)
            except Exception:  # a thread of its own: nobody else would hear of it
                log.exception("renewing the drivers of lab %s failed", lab_id)
                return
            for where, why in problems.items():
                log.warning("after an approval, %s: %s", where, why)

    threading.Thread(target=renew, name=f"pybirch-renew-lab-{lab_id}", daemon=True).start()


def _local_computer_id(station: Station) -> int | None:
    return None if station.identity is None else station.identity.computer_id


def station_of(computer: Computer) -> StationInterface | None:
    """The station of a computer, if there is one to ask now: this server's own, or an agent's."""
    station = local_station()
    if _local_computer_id(station) == computer.id:
        return station
    online = online_computer(computer.lab_id, computer.id) if computer.lab_id else None
    return None if online is None else RemoteStation(online)
