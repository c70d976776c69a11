"""The agent gateway's allow-list: each DatabaseService call a station makes, scope-checked.

Every method takes the app's database and the calling computer's :class:`ComputerScope`,
checks that what it names is this computer's (see :mod:`pybirch.web.agent_gateway_scope`),
keeps only the fields a station sets, and calls the database. A method not in
:data:`METHODS` does not exist for a computer token: no users, no tokens, no other
computer's queues, no other lab.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pybirch.database import DatabaseService
from pybirch.database.errors import NotFoundError
from pybirch.database.storage import EncodedChunk, Layout
from pybirch.database.storage.chunk_commit import check_encoded, commit_chunks, stored_spans
from pybirch.realtime.gateway_protocol import RecordFields
from pybirch.web.agent_gateway_scope import (
    ComputerScope,
    allowed_fields,
    bad_request,
    check_lab,
    lab_member,
    lab_project,
    lab_sample,
    not_this_computers,
    own_binding,
    own_instrument,
    own_measurement,
    own_queue,
    own_queue_record,
    own_scan,
    whole_number,
)

Method = Callable[..., Any]

#: Seconds a measurement checked to be a computer's is trusted for its chunks (the token
#: itself is checked on every request).
OWNED_MEASUREMENT_SECONDS = 30.0
#: Measurements remembered at most (the memory is cleared beyond).
OWNED_MEASUREMENTS = 10_000
#: (database identity, computer id, measurement id) -> (when checked, its layout).
_owned: dict[tuple[str, int, int], tuple[float, Layout]] = {}
_owned_lock = threading.Lock()

#: Queue fields a station sets when it opens (or takes over) a queue record.
QUEUE_FIELDS = frozenset(
    {
        "project_id",
        "sample_id",
        "operator",
        "computer_name",
        "extra_data",
        "created_by_id",
        "execution_mode",
        "max_parallel_scans",
        "name",
    }
)
#: Queue fields a station updates as its scans finish.
QUEUE_PROGRESS_FIELDS = frozenset({"completed_scans", "total_scans"})
#: Scan fields a station sets when it records a scan.
NEW_SCAN_FIELDS = frozenset(
    {
        "scan_id",
        "queue_id",
        "lab_id",
        "project_id",
        "sample_id",
        "operator",
        "created_by_id",
        "total_points",
        "project_name",
        "scan_type",
        "job_type",
        "scan_tree_data",
        "extra_data",
        "computer_name",
    }
)
#: Scan fields a station writes as a scan runs and ends.
SCAN_STATUS_FIELDS = frozenset(
    {
        "instrument_settings",
        "driver_versions",
        "total_points",
        "points_done",
        "progress",
        "error_message",
        "traceback",
        "extra_data",
    }
)
#: Instrument fields a station describes an instrument it is given with (``describe_instrument``).
DESCRIBED_FIELDS = frozenset(
    {"name", "instrument_type", "pybirch_class", "adapter", "last_settings"}
)
#: Sample fields a station sets when a scan brings a sample the lab does not have yet.
SAMPLE_FIELDS = frozenset(
    {"lab_id", "material", "additional_tags", "image_png", "project_id", "created_by_id"}
)


# -- the database and the computer -------------------------------------------------------


def database_identity(db: DatabaseService, scope: ComputerScope) -> str:
    """The database's own identity: the agent's spool folder for it."""
    return db.database_identity()


def get_or_create_user(db: DatabaseService, scope: ComputerScope, username: str) -> RecordFields:
    """The id of the lab's member of that name (the operator), or None: never a new user."""
    user = db.get_user_by_username(str(username))
    member = user is not None and db.get_role(scope.lab_id, user.id) is not None
    return RecordFields("User", {"id": user.id if member else None})


def get_lab(db: DatabaseService, scope: ComputerScope, lab_id: int) -> RecordFields:
    """The computer's own lab: its id and name (a queue taken back names its lab by id)."""
    lab = db.get_lab(check_lab(scope, lab_id))
    return RecordFields("Lab", {"id": lab.id, "name": lab.name})


# -- queues ---------------------------------------------------------------------------------


def get_queue(
    db: DatabaseService, scope: ComputerScope, queue_id: int | str, lab_id: int | None = None
) -> Any:
    """One of this computer's queues, by id or by QID in its lab."""
    if isinstance(queue_id, str):
        check_lab(scope, lab_id)
        return own_queue_record(scope, db.get_queue(queue_id, lab_id=scope.lab_id))
    return own_queue(db, scope, queue_id)


def get_queue_with_scans(db: DatabaseService, scope: ComputerScope, queue_id: int) -> Any:
    """One of this computer's queues with its scans (and their trees)."""
    own_queue(db, scope, queue_id)
    return db.get_queue_with_scans(queue_id)


def create_or_reuse_queue(
    db: DatabaseService,
    scope: ComputerScope,
    queue_id: str,
    lab_id: int | None = None,
    **fields: Any,
) -> Any:
    """The record of a queue this computer opens: new, or its own of that QID taken over."""
    check_lab(scope, lab_id)
    allowed_fields(fields, QUEUE_FIELDS, "a queue")
    try:
        stored = db.get_queue(str(queue_id), lab_id=scope.lab_id)
    except NotFoundError:
        stored = None
    if stored is not None:
        own_queue_record(scope, stored)  # another computer's queue is never taken over
    _check_lab_references(db, scope, fields)
    fields["extra_data"] = {**(fields.get("extra_data") or {}), **scope.queue_extra()}
    return db.create_or_reuse_queue(str(queue_id), lab_id=scope.lab_id, **fields)


def search_queues(
    db: DatabaseService,
    scope: ComputerScope,
    lab_id: int | None = None,
    status: str | None = None,
) -> list[Any]:
    """This computer's queues of its lab (of one status, if given)."""
    check_lab(scope, lab_id)
    found, page = [], 1
    while True:
        records = db.search_queues(lab_id=scope.lab_id, status=status, page=page, per_page=200)
        found += [
            record
            for record in records.items
            if (record.extra_data or {}).get("computer_id") == scope.computer_id
        ]
        if not records.has_next:
            return found
        page += 1


def update_queue_status(
    db: DatabaseService, scope: ComputerScope, queue_id: int, status: str
) -> Any:
    """Record one of this computer's queues' status."""
    own_queue(db, scope, queue_id)
    return db.update_queue_status(queue_id, str(status))


def update_queue(db: DatabaseService, scope: ComputerScope, queue_id: int, **fields: Any) -> Any:
    """Record one of this computer's queues' progress."""
    own_queue(db, scope, queue_id)
    return db.update_queue(queue_id, **allowed_fields(fields, QUEUE_PROGRESS_FIELDS, "a queue"))


def add_queue_log(
    db: DatabaseService,
    scope: ComputerScope,
    queue_id: int,
    level: str,
    message: str,
    scan_id: str | None = None,
    timestamp: datetime | None = None,
) -> None:
    """Append to one of this computer's queues' log."""
    own_queue(db, scope, queue_id)
    db.add_queue_log(queue_id, str(level), str(message), scan_id=scan_id, timestamp=timestamp)


def mark_interrupted(
    db: DatabaseService, scope: ComputerScope, queue_id: int, reason: str = "interrupted"
) -> list[Any]:
    """Mark one of this computer's queues (and its running scans) interrupted."""
    own_queue(db, scope, queue_id)
    return db.mark_interrupted(queue_id, str(reason))


# -- scans ----------------------------------------------------------------------------------


def create_scan(db: DatabaseService, scope: ComputerScope, scan_name: str, **fields: Any) -> Any:
    """A new scan record in one of this computer's queues."""
    allowed_fields(fields, NEW_SCAN_FIELDS, "a scan")
    if fields.get("queue_id") is None:
        raise not_this_computers("Scan without a queue", scan_name)
    own_queue(db, scope, fields["queue_id"])
    fields["lab_id"] = check_lab(scope, fields.get("lab_id"))
    _check_lab_references(db, scope, fields)
    return db.create_scan(str(scan_name), **fields)


def get_scan(
    db: DatabaseService, scope: ComputerScope, scan_id: int | str, with_settings: bool = True
) -> Any:
    """One of this computer's scans."""
    return own_scan(db, scope, scan_id, with_settings=bool(with_settings))


def update_scan(db: DatabaseService, scope: ComputerScope, scan_id: int, **fields: Any) -> Any:
    """Change one of this computer's scans' notes to itself (``extra_data``)."""
    own_scan(db, scope, scan_id, with_settings=False)
    return db.update_scan(scan_id, **allowed_fields(fields, frozenset({"extra_data"}), "a scan"))


def update_scan_status(
    db: DatabaseService, scope: ComputerScope, scan_id: int, status: str, **fields: Any
) -> Any:
    """Record one of this computer's scans' status."""
    own_scan(db, scope, scan_id, with_settings=False)
    allowed_fields(fields, SCAN_STATUS_FIELDS, "a scan")
    return db.update_scan_status(scan_id, str(status), **fields)


def record_scan_status(
    db: DatabaseService, scope: ComputerScope, scan_id: int, status: str, **fields: Any
) -> None:
    """Record one of this computer's scans' status (and what it ran with)."""
    own_scan(db, scope, scan_id, with_settings=False)
    allowed_fields(fields, SCAN_STATUS_FIELDS, "a scan")
    db.record_scan_status(scan_id, str(status), **fields)


def add_scan_log(
    db: DatabaseService,
    scope: ComputerScope,
    scan_id: int,
    level: str,
    message: str,
    timestamp: datetime | None = None,
) -> None:
    """Append to one of this computer's scans' log."""
    own_scan(db, scope, scan_id, with_settings=False)
    db.add_scan_log(scan_id, str(level), str(message), timestamp)


# -- samples --------------------------------------------------------------------------------


def get_sample(db: DatabaseService, scope: ComputerScope, sample_pk: int) -> Any:
    """A sample of the computer's lab."""
    return lab_sample(db, scope, sample_pk)


def get_sample_by_id(
    db: DatabaseService, scope: ComputerScope, sample_id: str, lab_id: int | None = None
) -> Any:
    """The lab's sample of that ID, or None."""
    check_lab(scope, lab_id)
    return db.get_sample_by_id(str(sample_id), scope.lab_id)


def create_sample(db: DatabaseService, scope: ComputerScope, sample_id: str, **fields: Any) -> Any:
    """A sample of the computer's lab that a scan brings."""
    allowed_fields(fields, SAMPLE_FIELDS, "a sample")
    fields["lab_id"] = check_lab(scope, fields.get("lab_id"))
    _check_lab_references(db, scope, fields)
    return db.create_sample(str(sample_id), **fields)


# -- instruments ----------------------------------------------------------------------------


def get_computer_bindings(
    db: DatabaseService,
    scope: ComputerScope,
    computer_id: int | None = None,
    lab_id: int | None = None,
) -> list[dict[str, Any]]:
    """The instruments bound to this computer, with the approved code of their drivers."""
    if computer_id != scope.computer_id:
        raise not_this_computers("Computer", computer_id)
    return db.get_computer_bindings(computer_id=scope.computer_id, lab_id=scope.lab_id)


def record_binding_use(
    db: DatabaseService,
    scope: ComputerScope,
    binding_id: int,
    adapter: str | None = None,
    settings: dict[str, Any] | None = None,
    connected: bool = True,
    loaded_driver: dict[str, Any] | None = None,
) -> None:
    """Write back what this computer used for one of its bindings."""
    own_binding(db, scope, binding_id)
    db.record_binding_use(
        binding_id,
        adapter=adapter,
        settings=settings,
        connected=bool(connected),
        lab_id=scope.lab_id,
        loaded_driver=loaded_driver,
    )


def update_instrument_status(
    db: DatabaseService,
    scope: ComputerScope,
    equipment_id: int,
    status: str,
    current_settings: dict[str, Any] | None = None,
    error_message: str | None = None,
) -> Any:
    """Record the status of an instrument bound to this computer."""
    own_instrument(db, scope, equipment_id)
    return db.update_instrument_status(
        equipment_id, str(status), current_settings=current_settings, error_message=error_message
    )


def register_instrument_on_computer(
    db: DatabaseService,
    scope: ComputerScope,
    described: dict[str, Any],
    lab_id: int | None,
    computer_id: int,
) -> Any:
    """This computer's instrument of that name in its lab, refreshed; else made and bound."""
    if computer_id != scope.computer_id:
        raise not_this_computers("Computer", computer_id)
    check_lab(scope, lab_id)
    if not isinstance(described, dict):
        raise bad_request("described must be a mapping of instrument fields")
    # Its driver definition, calibration and the like are the lab's to choose, not the computer's.
    allowed_fields(described, DESCRIBED_FIELDS, "an instrument")
    return db.register_instrument_on_computer(described, scope.lab_id, scope.computer_id)


def overdue_instruments(
    db: DatabaseService,
    scope: ComputerScope,
    lab_id: int | None,
    names: list[str],
    today: date,
    computer_id: int | None = None,
) -> list[dict[str, Any]]:
    """This computer's instruments of those names whose calibration or maintenance is overdue.

    Only this computer's instruments are looked at (or the lab's unbound one of a name it
    has none of): a station never learns another computer's due dates.
    """
    check_lab(scope, lab_id)
    if computer_id not in (None, scope.computer_id):
        raise not_this_computers("Computer", computer_id)
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise bad_request("names must be a list of instrument names")
    if isinstance(today, datetime) or not isinstance(today, date):
        raise bad_request(f"today must be a date, not {today!r}")
    overdue = db.overdue_instruments(scope.lab_id, names, today, computer_id=scope.computer_id)
    return [dataclasses.asdict(item) for item in overdue]


def blocks_overdue_scans(db: DatabaseService, scope: ComputerScope, lab_id: int | None) -> bool:
    """Whether the computer's lab refuses scans on overdue instruments."""
    return db.blocks_overdue_scans(check_lab(scope, lab_id))


# -- measurement data -----------------------------------------------------------------------


def create_measurement_object(
    db: DatabaseService,
    scope: ComputerScope,
    scan_id: int,
    name: str,
    layout: list[dict[str, Any]],
    point_shape: list[int] | None = None,
    instrument_name: str | None = None,
) -> Any:
    """The measurement of one of this computer's scans, created on first use."""
    own_scan(db, scope, scan_id, with_settings=False)
    try:
        columns = Layout.from_json(layout)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request(f"measurement {name!r}: bad layout: {exc}") from None
    return db.create_measurement_object(
        scan_id, str(name), columns, point_shape=point_shape, instrument_name=instrument_name
    )


def get_stored_spans(
    db: DatabaseService, scope: ComputerScope, measurement_id: int, first_row: int, end_row: int
) -> list[list[int]]:
    """(first row, end row) of stored chunks of one of this computer's measurements."""
    own_measurement(db, scope, measurement_id)
    spans = stored_spans(
        db.engine,
        measurement_id,
        whole_number(first_row, "first_row"),
        whole_number(end_row, "end_row"),
    )
    return [[low, high] for low, high in spans]


def store_chunks(
    db: DatabaseService,
    scope: ComputerScope,
    chunks: list[dict[str, Any]],
    progress: list[list[Any]],
) -> dict[str, int]:
    """Commit chunks of this computer's measurements with its scans' progress; then answer.

    All or nothing, in one transaction: the answer (the agent's acknowledgement) goes only
    after the commit. A chunk stored already (same measurement and first row, same rows)
    is skipped; one overlapping stored rows otherwise is refused (409), never stored twice.
    """
    by_measurement: dict[int, list[EncodedChunk]] = {}
    layouts: dict[int, Layout] = {}
    for each in chunks:
        measurement_id = whole_number(each.get("measurement_id"), "measurement_id")
        if measurement_id not in layouts:
            layouts[measurement_id] = _owned_layout(db, scope, measurement_id)
        chunk = _encoded_chunk(each)
        check_encoded(chunk, layouts[measurement_id])
        by_measurement.setdefault(measurement_id, []).append(chunk)
    scans = {}
    for entry in progress:
        scan_id, points_done, fraction = entry
        own_scan(db, scope, scan_id, with_settings=False)
        scans[whole_number(scan_id, "scan_id")] = (
            whole_number(points_done, "points_done"),
            None if fraction is None else float(fraction),
        )
    commit_chunks(db.engine, by_measurement, scans, refuse_overlap=True)
    return {"stored": sum(len(each) for each in by_measurement.values())}


def _owned_layout(db: DatabaseService, scope: ComputerScope, measurement_id: int) -> Layout:
    """The layout of one of this computer's measurements (its ownership checked at most
    every :data:`OWNED_MEASUREMENT_SECONDS`: a measurement never changes scan, nor a scan
    the queue, and a queue's computer is the gateway's to set)."""
    key = (db.database_identity(), scope.computer_id, measurement_id)
    now = time.monotonic()
    with _owned_lock:
        known = _owned.get(key)
    if known is not None and now - known[0] < OWNED_MEASUREMENT_SECONDS:
        return known[1]
    layout = Layout.from_json(own_measurement(db, scope, measurement_id).columns)
    with _owned_lock:
        if len(_owned) >= OWNED_MEASUREMENTS:
            _owned.clear()
        _owned[key] = (now, layout)
    return layout


def _encoded_chunk(message: dict[str, Any]) -> EncodedChunk:
    payload = message.get("payload")
    if not isinstance(payload, bytes):
        raise bad_request("a chunk's payload must be bytes")
    try:
        return EncodedChunk.from_meta(message, payload)
    except (KeyError, TypeError) as exc:
        raise bad_request(f"a chunk lacks {exc}") from None


def _check_lab_references(
    db: DatabaseService, scope: ComputerScope, fields: dict[str, Any]
) -> None:
    """Projects, samples and operators a record names must be of the computer's lab."""
    if fields.get("project_id") is not None:
        lab_project(db, scope, fields["project_id"])
    if fields.get("sample_id") is not None:
        lab_sample(db, scope, fields["sample_id"])
    if fields.get("created_by_id") is not None:
        lab_member(db, scope, fields["created_by_id"])


#: Every method a computer token may call, by name.
METHODS: dict[str, Method] = {
    method.__name__: method
    for method in (
        database_identity,
        get_or_create_user,
        get_lab,
        get_queue,
        get_queue_with_scans,
        create_or_reuse_queue,
        search_queues,
        update_queue_status,
        update_queue,
        add_queue_log,
        mark_interrupted,
        create_scan,
        get_scan,
        update_scan,
        update_scan_status,
        record_scan_status,
        add_scan_log,
        get_sample,
        get_sample_by_id,
        create_sample,
        get_computer_bindings,
        record_binding_use,
        update_instrument_status,
        register_instrument_on_computer,
        overdue_instruments,
        blocks_overdue_scans,
        create_measurement_object,
        get_stored_spans,
        store_chunks,
    )
}
