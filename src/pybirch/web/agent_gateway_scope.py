"""What a computer token reaches through the agent gateway: its own station's records only.

A computer token grants what its station needs and nothing else: the queues this computer
runs (``extra_data.computer_id`` of the queue record, set by the gateway itself), the scans
of those queues and their measurements, the instruments bound to this computer and their
bindings (with the approved code of their definitions), its lab's samples and projects
as a scan names them, and the database's identity. Each check raises
:class:`GatewayRefusal`: 404 for what is in another lab (as if it did not exist), 403 for
what is in this lab but not this computer's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pybirch.database import DatabaseService
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Instrument, MeasurementObject, Queue, Sample, Scan
from pybirch.errors import PyBirchError
from pybirch.realtime.gateway_protocol import BAD_REQUEST, NOT_FOUND, REFUSED

T = TypeVar("T")


class GatewayRefusal(PyBirchError):
    """A gateway request outside what the computer's token grants, or malformed."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


@dataclass(frozen=True)
class ComputerScope:
    """The computer a gateway request comes from: its record id, lab and name."""

    computer_id: int
    lab_id: int
    name: str

    def queue_extra(self) -> dict[str, Any]:
        """What marks a queue record as this computer's (written by the gateway, not the agent)."""
        return {"computer_id": self.computer_id, "computer": self.name}


def hidden(kind: str, key: object) -> GatewayRefusal:
    """A 404: the thing is in another lab, or does not exist (the caller cannot tell)."""
    return GatewayRefusal(404, NOT_FOUND, f"{kind} {key!r} not found")


def not_this_computers(kind: str, key: object) -> GatewayRefusal:
    """A 403: the thing is in this computer's lab but not one of this computer's."""
    return GatewayRefusal(403, REFUSED, f"{kind} {key!r} is not this computer's")


def bad_request(message: str) -> GatewayRefusal:
    """A 400: the request is malformed."""
    return GatewayRefusal(400, BAD_REQUEST, message)


def whole_number(value: Any, name: str) -> int:
    """``value`` if it is an int (not a bool), else a 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be a whole number, not {value!r}")
    return value


def allowed_fields(fields: dict[str, Any], allowed: frozenset[str], what: str) -> dict[str, Any]:
    """``fields`` if every name is in ``allowed``, else a 403 naming the others."""
    others = sorted(set(fields) - allowed)
    if others:
        raise GatewayRefusal(403, REFUSED, f"a computer token may not set {others} of {what}")
    return fields


def check_lab(scope: ComputerScope, lab_id: Any) -> int:
    """The computer's lab, if ``lab_id`` names it; else a 404."""
    if lab_id != scope.lab_id:
        raise hidden("Lab", lab_id)
    return scope.lab_id


def own_queue_record(scope: ComputerScope, queue: Queue) -> Queue:
    """``queue`` if this computer runs it; 404 for another lab's, 403 for another computer's."""
    if queue.lab_id != scope.lab_id:
        raise hidden("Queue", queue.id)
    if (queue.extra_data or {}).get("computer_id") != scope.computer_id:
        raise not_this_computers("Queue", queue.queue_id)
    return queue


def own_queue(db: DatabaseService, scope: ComputerScope, queue_id: Any) -> Queue:
    """The queue record with this id, if this computer runs it."""
    queue_id = whole_number(queue_id, "queue_id")
    try:
        queue = db.get_queue(queue_id)
    except NotFoundError:
        raise hidden("Queue", queue_id) from None
    return own_queue_record(scope, queue)


def own_scan(db: DatabaseService, scope: ComputerScope, scan_id: Any, **options: Any) -> Scan:
    """The scan record (by id or public id), if it is of one of this computer's queues."""
    if isinstance(scan_id, bool) or not isinstance(scan_id, int | str):
        raise bad_request(f"scan_id must be an id, not {scan_id!r}")
    try:
        scan = db.get_scan(scan_id, **options)
    except NotFoundError:
        raise hidden("Scan", scan_id) from None
    if scan.lab_id != scope.lab_id:
        raise hidden("Scan", scan_id)
    if scan.queue_id is None:
        raise not_this_computers("Scan", scan_id)
    try:
        own_queue(db, scope, scan.queue_id)
    except GatewayRefusal:
        raise not_this_computers("Scan", scan_id) from None
    return scan


def own_measurement(
    db: DatabaseService, scope: ComputerScope, measurement_id: Any
) -> MeasurementObject:
    """The measurement record, if it is of one of this computer's scans."""
    measurement_id = whole_number(measurement_id, "measurement_id")
    try:
        measurement = db.get_measurement_object(measurement_id)
    except NotFoundError:
        raise hidden("Measurement", measurement_id) from None
    try:
        own_scan(db, scope, measurement.scan_id, with_settings=False)
    except GatewayRefusal as refusal:
        raise GatewayRefusal(
            refusal.status, refusal.kind, f"measurement {measurement_id}: {refusal}"
        ) from None
    return measurement


def lab_sample(db: DatabaseService, scope: ComputerScope, sample_pk: Any) -> Sample:
    """A sample record of the computer's lab."""
    return _of_lab(scope, "Sample", db.get_sample, whole_number(sample_pk, "sample_id"))


def lab_project(db: DatabaseService, scope: ComputerScope, project_id: Any) -> int:
    """A project id of the computer's lab."""
    return _of_lab(scope, "Project", db.get_project, whole_number(project_id, "project_id")).id


def _of_lab(scope: ComputerScope, kind: str, fetch: Callable[[int], T], key: int) -> T:
    """``fetch(key)`` if the record is of the computer's lab; else a 404."""
    try:
        record = fetch(key)
    except NotFoundError:
        raise hidden(kind, key) from None
    if getattr(record, "lab_id", None) != scope.lab_id:
        raise hidden(kind, key)
    return record


def lab_member(db: DatabaseService, scope: ComputerScope, user_id: Any) -> int:
    """A user id of a member of the computer's lab (the operator a record names)."""
    user_id = whole_number(user_id, "user id")
    if db.get_role(scope.lab_id, user_id) is None:
        raise hidden("User", user_id)
    return user_id


def own_binding(db: DatabaseService, scope: ComputerScope, binding_id: Any) -> dict[str, Any]:
    """The binding (as the station reads it) of an instrument to this computer."""
    binding_id = whole_number(binding_id, "binding_id")
    for binding in db.get_computer_bindings(computer_id=scope.computer_id, lab_id=scope.lab_id):
        if binding["id"] == binding_id:
            return binding
    raise hidden("ComputerBinding", binding_id)


def own_instrument(db: DatabaseService, scope: ComputerScope, instrument_id: Any) -> int:
    """The id of an instrument bound to this computer."""
    instrument_id = whole_number(instrument_id, "instrument id")
    bound = {
        binding["instrument"]["id"]
        for binding in db.get_computer_bindings(computer_id=scope.computer_id, lab_id=scope.lab_id)
    }
    if instrument_id in bound:
        return instrument_id
    try:
        instrument: Instrument = db.get_instrument(instrument_id)
    except NotFoundError:
        raise hidden("Instrument", instrument_id) from None
    if instrument.lab_id != scope.lab_id:
        raise hidden("Instrument", instrument_id)
    raise not_this_computers("Instrument", instrument_id)
