"""Acting on queues this server runs, shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.database.models import Scan as ScanRecord
from pybirch.database_integration import DatabaseQueue
from pybirch.errors import PyBirchError
from pybirch.web.auth.access import require_lab_role, visible_scan
from pybirch.web.runtime import local_queues
from pybirch.web.services import database

QUEUE_ACTIONS = ("start", "pause", "resume", "abort")
SCAN_ACTIONS = ("pause", "resume", "abort")


class ControlRefused(Exception):
    """The request is allowed but cannot be obeyed now (HTTP 409); says why."""


def controllable_queue(queue_id: int) -> DatabaseQueue:
    """The live queue if the user may control it (404/403 otherwise, ControlRefused if remote)."""
    try:
        record = database().get_queue(queue_id)
    except NotFoundError:
        abort(404, f"queue {queue_id} not found")
    require_lab_role(record.lab_id, Role.MEMBER)
    queue = local_queues().get(queue_id)
    if queue is None:
        raise ControlRefused(
            f"queue {record.queue_id!r} runs on {record.computer_name or 'another computer'}, "
            f"not in this server"
        )
    return queue


def controllable_scan(scan_id: str) -> tuple[DatabaseQueue, ScanRecord]:
    """The live queue running a scan, and the scan's record, if the user may control it."""
    record = visible_scan(scan_id, Role.MEMBER)
    if record.queue_id is None:
        raise ControlRefused(f"scan {scan_id} is not run by a queue; it cannot be controlled")
    return controllable_queue(record.queue_id), record


def act_on_queue(queue_id: int, action: str) -> DatabaseQueue:
    """Start, pause, resume or abort a queue."""
    if action not in QUEUE_ACTIONS:
        abort(404)
    queue = controllable_queue(queue_id)
    _obey(getattr(queue, action))
    return queue


def act_on_scan(scan_id: str, action: str) -> tuple[DatabaseQueue, ScanRecord]:
    """Pause, resume or abort one scan of a queue."""
    if action not in SCAN_ACTIONS:
        abort(404)
    queue, record = controllable_scan(scan_id)
    _obey(lambda: getattr(queue, f"{action}_scan")(record.scan_id))
    return queue, record


def _obey(action: Callable[[], object]) -> None:
    try:
        action()
    except PyBirchError as exc:  # the queue or scan is in a state that forbids it
        raise ControlRefused(str(exc)) from exc
