"""Acting on queues, wherever they run: through the station that runs them."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Queue as QueueRecord
from pybirch.database.models import Role
from pybirch.errors import PyBirchError
from pybirch.station import Action, UnknownActionError
from pybirch.web.auth.access import require_lab_role, visible_scan
from pybirch.web.filters import computer
from pybirch.web.services import database
from pybirch.web.stations import station_running


class ControlRefused(Exception):
    """The request is allowed but cannot be obeyed now (HTTP 409); says why."""


def act_on_queue(queue_id: int, word: str) -> str:
    """Start, pause, resume or abort a queue; return its state afterwards."""
    action = _action(Action.for_queue, word)
    record = _queue_record(queue_id)
    require_lab_role(record.lab_id, Role.MEMBER)
    return _obey(record, action, None)


def act_on_scan(scan_id: str, word: str) -> str:
    """Pause, resume or abort one scan of a queue; return the scan's state afterwards."""
    action = _action(Action.for_scan, word)
    scan = visible_scan(scan_id, Role.MEMBER)
    if scan.queue_id is None:
        raise ControlRefused(f"scan {scan_id} is not run by a queue; it cannot be controlled")
    return _obey(_queue_record(scan.queue_id), action, scan.scan_id)


def can_control(record: QueueRecord) -> bool:
    """Whether a control request for this queue has anyone to obey it now."""
    return station_running(record) is not None


def _action(parse: Callable[[str], Action], word: str) -> Action:
    try:
        return parse(word)
    except UnknownActionError:
        abort(404)


def _queue_record(queue_id: int) -> QueueRecord:
    try:
        return database().get_queue(queue_id)
    except NotFoundError:
        abort(404, f"queue {queue_id} not found")


def _obey(record: QueueRecord, action: Action, scan_id: str | None) -> str:
    station = station_running(record)
    if station is None:
        raise ControlRefused(
            f"queue {record.queue_id!r} runs on {computer(record, 'another computer')}, "
            f"which is not connected to this server"
        )
    try:
        return station.control(record.id, action, scan_id)
    except PyBirchError as exc:  # the queue or scan is in a state that forbids it
        raise ControlRefused(str(exc)) from exc
