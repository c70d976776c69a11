"""Acting on queues, wherever they run: in this server or on a lab computer's agent.

A queue this server process runs is acted on directly. A queue a lab computer runs is
recorded with that computer's id; the request goes to its agent, which answers with the
new state (or why it refused).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Computer, Role
from pybirch.database.models import Queue as QueueRecord
from pybirch.errors import PyBirchError
from pybirch.realtime.agent_protocol import CONTROL
from pybirch.web.agents import AgentUnavailable, ask_agent, online_computer
from pybirch.web.auth.access import require_lab_role, visible_scan
from pybirch.web.runtime import local_queues
from pybirch.web.services import database

QUEUE_ACTIONS = ("start", "pause", "resume", "abort")
SCAN_ACTIONS = ("pause", "resume", "abort")


class ControlRefused(Exception):
    """The request is allowed but cannot be obeyed now (HTTP 409); says why."""


def act_on_queue(queue_id: int, action: str) -> str:
    """Start, pause, resume or abort a queue; return its state afterwards."""
    if action not in QUEUE_ACTIONS:
        abort(404)
    record = _queue_record(queue_id)
    require_lab_role(record.lab_id, Role.MEMBER)
    queue = local_queues().get(queue_id)
    if queue is None:
        return _ask_computer(record, {"queue_id": queue_id, "scan_id": None, "action": action})
    _obey(getattr(queue, action))
    return queue.state.value


def act_on_scan(scan_id: str, action: str) -> str:
    """Pause, resume or abort one scan of a queue; return the scan's state afterwards."""
    if action not in SCAN_ACTIONS:
        abort(404)
    scan = visible_scan(scan_id, Role.MEMBER)
    if scan.queue_id is None:
        raise ControlRefused(f"scan {scan_id} is not run by a queue; it cannot be controlled")
    queue = local_queues().get(scan.queue_id)
    if queue is None:
        request = {"queue_id": scan.queue_id, "scan_id": scan.scan_id, "action": action}
        return _ask_computer(_queue_record(scan.queue_id), request)
    _obey(lambda: getattr(queue, f"{action}_scan")(scan.scan_id))
    return queue.get_handle(scan.scan_id).state.value


def can_control(record: QueueRecord) -> bool:
    """Whether a control request for this queue has anyone to obey it now."""
    return local_queues().get(record.id) is not None or _agent_computer(record) is not None


def _queue_record(queue_id: int) -> QueueRecord:
    try:
        return database().get_queue(queue_id)
    except NotFoundError:
        abort(404, f"queue {queue_id} not found")


def _agent_computer(record: QueueRecord) -> Computer | None:
    computer_id = (record.extra_data or {}).get("computer_id")
    return None if computer_id is None else online_computer(record.lab_id, int(computer_id))


def _ask_computer(record: QueueRecord, request: dict[str, Any]) -> str:
    computer = _agent_computer(record)
    if computer is None:
        raise ControlRefused(
            f"queue {record.queue_id!r} runs on {record.computer_name or 'another computer'}, "
            f"which is not connected to this server"
        )
    try:
        reply = ask_agent(computer, CONTROL, request)
    except AgentUnavailable as exc:
        raise ControlRefused(str(exc)) from exc
    if not reply.get("ok"):
        raise ControlRefused(str(reply.get("error") or "the computer refused"))
    return str(reply.get("status"))


def _obey(action: Callable[[], object]) -> None:
    try:
        action()
    except PyBirchError as exc:  # the queue or scan is in a state that forbids it
        raise ControlRefused(str(exc)) from exc
