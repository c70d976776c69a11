"""The agent: a lab computer's queues, run for the browser and reported to the server.

``pybirch agent --server URL --token TOKEN`` makes one. It connects out to the server,
registers its computer, instruments and queues, builds the scans the browser designs,
runs them in :class:`DatabaseQueue` s (every point stored, spooled while the database is
away) and obeys start, pause, resume and abort. It measures on whether or not the server
is there; live events wait for it in the uplink.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pybirch.agent.uplink import Uplink
from pybirch.database import DatabaseService
from pybirch.database.services.queues import LIVE_QUEUE_STATUSES, QueueRunningError
from pybirch.database_integration import DatabaseQueue, EquipmentManager, to_pybirch_sample
from pybirch.errors import PyBirchError
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.queue import QueueState, QueueStateError
from pybirch.realtime import EventBus, follow_queue
from pybirch.realtime.agent_protocol import CONTROL, ENQUEUE, REGISTER
from pybirch.realtime.events import InstrumentStatus, QueueStatus, ScanStatus
from pybirch.scan import Scan
from pybirch.scan.design import DesignError, ScanDesign, build_settings

log = logging.getLogger(__name__)

QUEUE_ACTIONS = ("start", "pause", "resume", "abort")
#: Seconds a request waits for the first registration (less than the server waits for us).
REGISTRATION_WAIT = 8.0
SCAN_ACTIONS = ("pause", "resume", "abort")


class AgentError(PyBirchError):
    """A request the agent cannot carry out; the message says why."""


@dataclass(frozen=True)
class Registration:
    """Who the server says this agent is."""

    computer_id: int
    lab_id: int
    name: str


class Agent:
    """Runs this computer's queues for the server it connects to."""

    def __init__(
        self, server_url: str, token: str, db: DatabaseService, instruments: InstrumentSet
    ) -> None:
        self.db = db
        self.instruments = instruments
        self.bus = EventBus()
        self.registration: Registration | None = None
        self._ready = threading.Event()
        self._queues: dict[int, DatabaseQueue] = {}
        self._lock = threading.Lock()
        self.uplink = Uplink(
            server_url,
            token,
            on_connected=self._register,
            handlers={ENQUEUE: self.enqueue, CONTROL: self.control},
        )
        self.bus.subscribe(self.uplink.send)

    def start(self) -> None:
        """Connect to the server (in the background) and serve its requests."""
        self.uplink.start()

    def queues(self) -> list[DatabaseQueue]:
        """The queues this agent runs."""
        with self._lock:
            return list(self._queues.values())

    def close(self, timeout: float = 30.0) -> None:
        """Abort what runs, store every point, and disconnect."""
        for queue in self.queues():
            if queue.state is not QueueState.IDLE:  # scans never started stay queued
                queue.abort()
                queue.wait_for_completion(timeout)
            queue.close()
        self.uplink.close()

    # -- requests from the server ------------------------------------------------------

    def enqueue(self, request: Any) -> dict[str, Any]:
        """Build a scan from a design, add it to a queue and start it if asked."""
        try:
            return {"ok": True, **self._enqueue(request)}
        except DesignError as exc:
            return {"ok": False, "errors": exc.errors}
        except PyBirchError as exc:
            return {"ok": False, "errors": {"scan": str(exc)}}
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("bad enqueue request from the server: %r", request, exc_info=exc)
            return {"ok": False, "errors": {"scan": f"bad request: {exc}"}}
        except Exception as exc:  # the browser must hear of it, not wait for a timeout
            log.exception("could not queue the scan the server sent")
            return {"ok": False, "errors": {"scan": f"this computer could not queue it: {exc}"}}

    def control(self, request: Any) -> dict[str, Any]:
        """Start, pause, resume or abort a queue, or pause, resume or abort one scan."""
        try:
            return {"ok": True, "status": self._control(request)}
        except PyBirchError as exc:
            return {"ok": False, "error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("bad control request from the server: %r", request, exc_info=exc)
            return {"ok": False, "error": f"bad request: {exc}"}
        except Exception as exc:  # the browser must hear of it, not wait for a timeout
            log.exception("could not obey the control request %r", request)
            return {"ok": False, "error": f"this computer could not obey: {exc}"}

    def _enqueue(self, request: dict[str, Any]) -> dict[str, Any]:
        registration = self._registered()
        if int(request["lab_id"]) != registration.lab_id:
            raise AgentError("this computer belongs to another lab")
        settings = build_settings(ScanDesign.from_dict(request["design"]), self.instruments)
        sample = None
        if request.get("sample_id") is not None:
            record = self.db.get_sample(int(request["sample_id"]))
            if record.lab_id != registration.lab_id:
                raise DesignError({"sample_id": "no such sample"})
            sample = to_pybirch_sample(record)
        queue = self._queue_for(request["queue"], str(request.get("operator") or "") or None)
        handle = queue.enqueue(Scan(settings, sample))
        if request.get("start") and queue.state is QueueState.IDLE:
            queue.start()
        self._announce_queues()
        return {"scan_id": handle.scan_id, "queue_id": queue.db_queue_id, "queue_name": queue.QID}

    def _queue_for(self, choice: dict[str, Any], operator: str | None) -> DatabaseQueue:
        if "id" in choice:
            with self._lock:
                queue = self._queues.get(int(choice["id"]))
            if queue is None:
                raise DesignError({"queue": "this computer does not run that queue"})
            return queue
        name = str(choice.get("name", "")).strip()
        if not name:
            raise DesignError({"new_queue": "name the new queue"})
        registration = self._registered()
        queue = DatabaseQueue(
            name,
            self.db,
            operator=operator,
            lab_id=registration.lab_id,
            record_extra={"computer_id": registration.computer_id, "computer": registration.name},
        )
        return self._run(queue)

    def _run(self, queue: DatabaseQueue) -> DatabaseQueue:
        """Make ``queue`` this agent's: followed live, controllable, listed to the server."""
        follow_queue(queue, self.bus)
        queue.add_queue_state_callback(lambda _state: self._announce_queues())
        with self._lock:
            self._queues[queue.db_queue_id] = queue
        return queue

    def _adopt_cut_short_queues(self, registration: Registration) -> int:
        """Take back the queues an earlier run of this agent left running when it stopped.

        Their spooled points are stored, their cut-short scans marked interrupted, and the
        queues run here again, ready for new scans. Returns how many were taken back.
        """
        mine = [
            record
            for status in LIVE_QUEUE_STATUSES
            for record in self.db.search_queues(
                lab_id=registration.lab_id, status=status, per_page=500
            ).items
            if (record.extra_data or {}).get("computer_id") == registration.computer_id
        ]
        taken = 0
        for record in mine:
            try:
                queue = DatabaseQueue.from_database(
                    self.db,
                    record.queue_id,
                    lab_id=registration.lab_id,
                    record_extra={
                        "computer_id": registration.computer_id,
                        "computer": registration.name,
                    },
                )
            except (QueueStateError, QueueRunningError) as exc:  # another agent still runs it
                log.warning("leaving queue %r alone: %s", record.queue_id, exc)
                continue
            self._run(queue)
            queue.log("WARNING", "this computer's agent stopped while the queue ran; taken back")
            taken += 1
        return taken

    def _control(self, request: dict[str, Any]) -> str:
        action = str(request["action"])
        with self._lock:
            queue = self._queues.get(int(request["queue_id"]))
        if queue is None:
            raise AgentError(f"this computer does not run queue {request['queue_id']}")
        scan_id = request.get("scan_id")
        if scan_id is None:
            if action not in QUEUE_ACTIONS:
                raise AgentError(f"unknown queue action {action!r}")
            getattr(queue, action)()
            return queue.state.value
        if action not in SCAN_ACTIONS:
            raise AgentError(f"unknown scan action {action!r}")
        getattr(queue, f"{action}_scan")(str(scan_id))
        return queue.get_handle(str(scan_id)).state.value

    # -- registration ------------------------------------------------------------------

    def _registered(self) -> Registration:
        # A request may come while the first registration still takes back old queues.
        if not self._ready.wait(REGISTRATION_WAIT) or self.registration is None:
            raise AgentError("the agent has not registered with the server yet")
        return self.registration

    def _register(self) -> None:
        """Tell the server who we are; then bring its picture of our queues up to date."""
        reply = self.uplink.request(REGISTER, self._registration_message())
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise AgentError(f"the server refused the registration: {reply!r}")
        registration = Registration(
            int(reply["computer_id"]), int(reply["lab_id"]), str(reply["name"])
        )
        if self.registration is None:  # the first time: requests wait until this is done
            self._record_instruments(registration)
            if self._adopt_cut_short_queues(registration):
                self.uplink.request(REGISTER, self._registration_message())  # with them
        self.registration = registration
        self._ready.set()
        for event in self._current_state():
            self.uplink.send(event)

    def _registration_message(self) -> dict[str, Any]:
        return {
            "computer": {
                "hostname": socket.gethostname(),
                "platform": platform.platform(),
                "username": getpass.getuser(),
                "pid": os.getpid(),
            },
            "instruments": [info.to_dict() for info in self.instruments.catalogue()],
            "queues": self._queue_list(),
        }

    def _queue_list(self) -> list[dict[str, Any]]:
        return [{"id": q.db_queue_id, "name": q.QID, "state": q.state.value} for q in self.queues()]

    def _announce_queues(self) -> None:
        if self.registration is not None:
            self.uplink.notify(REGISTER, self._registration_message())

    def _record_instruments(self, registration: Registration) -> None:
        equipment = EquipmentManager(self.db, registration.lab_id)
        for instrument in self.instruments.all():
            try:
                record = equipment.register(instrument)
                equipment.update_status(record.id, "connected", instrument)
            except PyBirchError:
                log.exception("could not record instrument %s in the database", instrument.name)
                continue
            self.bus.publish(
                InstrumentStatus(
                    instrument.name, "connected", registration.name, registration.lab_id
                )
            )

    def _current_state(self) -> list[Any]:
        """Each queue's state and each active scan's status, as the server should see them."""
        events: list[Any] = []
        for queue in self.queues():
            active = [h for h in queue.handles if h.active]
            current = active[0].scan_id if active else None
            events.append(QueueStatus(queue.db_queue_id, queue.state.value, current, queue.lab_id))
            for handle in active:
                events.append(
                    ScanStatus(
                        handle.scan_id,
                        handle.state.value,
                        handle.progress,
                        queue.lab_id,
                        queue.db_queue_id,
                    )
                )
        return events
