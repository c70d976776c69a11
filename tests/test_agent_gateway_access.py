"""A computer token reaches its own station's records through the gateway, and nothing else.

Every gateway method is tried with another computer's queue, scan, measurement, instrument
and binding (403: this lab, not this computer's), with another lab's ids (404, as if they
did not exist), and with no token, a user's token or a replaced computer token (401). The
web pages and the REST API refuse the computer token too: that is the access matrix's
``computer`` principal (tests/test_web_access.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
import requests

from gateway_support import GatewayLab, gateway_lab
from lab_client import LabClient
from pybirch.database.models import Role
from pybirch.database.storage import ChunkData, Layout, encode
from pybirch.realtime.gateway_protocol import CONTENT_TYPE, GATEWAY_PREFIX, pack, unpack
from pybirch.web.agent_gateway_methods import METHODS
from web_support import PASSWORD, add_member

TIMEOUT = 60.0


@dataclass
class Records:
    """Ids of this computer's records, another computer's in its lab, and another lab's."""

    own_queue: int
    own_scan: int
    own_measurement: int
    lab_sample: int
    other_computer: int
    other_queue: int
    other_qid: str
    other_scan: int
    other_scan_public: str
    other_measurement: int
    other_instrument: int
    other_binding: int
    far_lab: int
    far_computer: int
    far_queue: int
    far_qid: str
    far_scan: int
    far_scan_public: str
    far_measurement: int
    far_sample: int
    far_sample_id: str
    far_project: int
    far_user: int
    far_username: str
    far_instrument: int
    far_binding: int


LAYOUT = Layout.build(["signal (V)"], [])


def _measured_scan(db: Any, lab_id: int, computer_id: int, name: str) -> tuple[Any, Any, Any]:
    """A queue of that computer with one scan and its measurement, made as its station would."""
    queue = db.create_or_reuse_queue(
        f"{name} queue", lab_id=lab_id, extra_data={"computer_id": computer_id}
    )
    scan = db.create_scan(f"{name} scan", queue_id=queue.id, lab_id=lab_id)
    measurement = db.create_measurement_object(scan.id, "signal", LAYOUT)
    return queue, scan, measurement


def _bound_instrument(db: Any, lab_id: int, computer_id: int, name: str) -> tuple[int, int]:
    instrument = db.register_instrument_on_computer(
        {"name": name, "instrument_type": "measurement"}, lab_id, computer_id
    )
    (binding,) = db.get_computer_bindings(computer_id=computer_id)
    return instrument.id, binding["id"]


def build_records(lab: GatewayLab) -> Records:
    """What the computer may reach, and what it must not, in its lab and another."""
    db, agent = lab.db, lab.agent_database()
    own_queue = agent.create_or_reuse_queue("own queue", lab_id=lab.lab_id)
    own_scan = agent.create_scan("own scan", queue_id=own_queue.id, lab_id=lab.lab_id)
    own_measurement = agent.create_measurement_object(own_scan.id, "signal", LAYOUT)
    lab_sample = db.create_sample("LAB-1", lab_id=lab.lab_id)

    other, _ = db.create_computer(lab.lab_id, "Other PC")
    other_queue, other_scan, other_measurement = _measured_scan(db, lab.lab_id, other.id, "other")
    other_instrument, other_binding = _bound_instrument(db, lab.lab_id, other.id, "Other meter")

    far_lab = db.create_lab("Far lab")
    far, _ = db.create_computer(far_lab.id, "Far PC")
    far_queue, far_scan, far_measurement = _measured_scan(db, far_lab.id, far.id, "far")
    far_instrument, far_binding = _bound_instrument(db, far_lab.id, far.id, "Far meter")
    far_project = db.create_project("Far project", far_lab.id)
    far_sample = db.create_sample("FAR-1", lab_id=far_lab.id)
    far_user = add_member(db, far_lab.id, "faraway", Role.MEMBER)
    return Records(
        own_queue.id,
        own_scan.id,
        own_measurement.id,
        lab_sample.id,
        other.id,
        other_queue.id,
        other_queue.queue_id,
        other_scan.id,
        other_scan.scan_id,
        other_measurement.id,
        other_instrument,
        other_binding,
        far_lab.id,
        far.id,
        far_queue.id,
        far_queue.queue_id,
        far_scan.id,
        far_scan.scan_id,
        far_measurement.id,
        far_sample.id,
        far_sample.sample_id,
        far_project.id,
        far_user,
        "faraway",
        far_instrument,
        far_binding,
    )


def _chunk_to(measurement: int) -> dict[str, Any]:
    values = np.arange(10, dtype=float)
    data = ChunkData(0, 0, [values, values], 10, 10)
    encoded = encode(data, LAYOUT)
    return {"measurement_id": measurement, **encoded.meta(), "payload": encoded.payload}


Case = tuple[str, str, Callable[[Records, GatewayLab], dict[str, Any]], int]

#: (what is tried, method, its arguments, the status it must get).
CASES: list[Case] = [
    ("another lab", "get_lab", lambda r, _: {"lab_id": r.far_lab}, 404),
    # queues
    ("another computer's queue", "get_queue", lambda r, _: {"queue_id": r.other_queue}, 403),
    ("another lab's queue", "get_queue", lambda r, _: {"queue_id": r.far_queue}, 404),
    (
        "another computer's queue by QID",
        "get_queue",
        lambda r, lab: {"queue_id": r.other_qid, "lab_id": lab.lab_id},
        403,
    ),
    (
        "another lab's queue by QID",
        "get_queue",
        lambda r, _: {"queue_id": r.far_qid, "lab_id": r.far_lab},
        404,
    ),
    (
        "another computer's queue",
        "get_queue_with_scans",
        lambda r, _: {"queue_id": r.other_queue},
        403,
    ),
    ("another lab's queue", "get_queue_with_scans", lambda r, _: {"queue_id": r.far_queue}, 404),
    (
        "taking over another computer's queue",
        "create_or_reuse_queue",
        lambda r, lab: {"queue_id": r.other_qid, "lab_id": lab.lab_id},
        403,
    ),
    (
        "a queue in another lab",
        "create_or_reuse_queue",
        lambda r, _: {"queue_id": "mine now", "lab_id": r.far_lab},
        404,
    ),
    (
        "a queue of another lab's project",
        "create_or_reuse_queue",
        lambda r, lab: {"queue_id": "new", "lab_id": lab.lab_id, "project_id": r.far_project},
        404,
    ),
    (
        "a queue of another lab's sample",
        "create_or_reuse_queue",
        lambda r, lab: {"queue_id": "new", "lab_id": lab.lab_id, "sample_id": r.far_sample},
        404,
    ),
    (
        "a queue made by another lab's user",
        "create_or_reuse_queue",
        lambda r, lab: {"queue_id": "new", "lab_id": lab.lab_id, "created_by_id": r.far_user},
        404,
    ),
    (
        "a queue field a station never sets",
        "create_or_reuse_queue",
        lambda r, lab: {"queue_id": "new", "lab_id": lab.lab_id, "status": "running"},
        403,
    ),
    ("another lab's queues", "search_queues", lambda r, _: {"lab_id": r.far_lab}, 404),
    (
        "another computer's queue",
        "update_queue_status",
        lambda r, _: {"queue_id": r.other_queue, "status": "aborted"},
        403,
    ),
    (
        "another lab's queue",
        "update_queue_status",
        lambda r, _: {"queue_id": r.far_queue, "status": "aborted"},
        404,
    ),
    (
        "another computer's queue",
        "update_queue",
        lambda r, _: {"queue_id": r.other_queue, "completed_scans": 9},
        403,
    ),
    (
        "moving its own queue to another computer",
        "update_queue",
        lambda r, _: {"queue_id": r.own_queue, "extra_data": {"computer_id": r.other_computer}},
        403,
    ),
    (
        "moving its own queue to another lab",
        "update_queue",
        lambda r, _: {"queue_id": r.own_queue, "lab_id": r.far_lab},
        403,
    ),
    (
        "another computer's queue",
        "add_queue_log",
        lambda r, _: {"queue_id": r.other_queue, "level": "INFO", "message": "x"},
        403,
    ),
    (
        "another lab's queue",
        "add_queue_log",
        lambda r, _: {"queue_id": r.far_queue, "level": "INFO", "message": "x"},
        404,
    ),
    ("another computer's queue", "mark_interrupted", lambda r, _: {"queue_id": r.other_queue}, 403),
    ("another lab's queue", "mark_interrupted", lambda r, _: {"queue_id": r.far_queue}, 404),
    # scans
    (
        "a scan in another computer's queue",
        "create_scan",
        lambda r, lab: {"scan_name": "x", "queue_id": r.other_queue, "lab_id": lab.lab_id},
        403,
    ),
    (
        "a scan in another lab's queue",
        "create_scan",
        lambda r, _: {"scan_name": "x", "queue_id": r.far_queue, "lab_id": r.far_lab},
        404,
    ),
    (
        "a scan of its queue filed in another lab",
        "create_scan",
        lambda r, _: {"scan_name": "x", "queue_id": r.own_queue, "lab_id": r.far_lab},
        404,
    ),
    (
        "a scan of another lab's sample",
        "create_scan",
        lambda r, lab: {
            "scan_name": "x",
            "queue_id": r.own_queue,
            "lab_id": lab.lab_id,
            "sample_id": r.far_sample,
        },
        404,
    ),
    (
        "a scan field a station never sets",
        "create_scan",
        lambda r, lab: {
            "scan_name": "x",
            "queue_id": r.own_queue,
            "lab_id": lab.lab_id,
            "template_id": 1,
        },
        403,
    ),
    ("another computer's scan", "get_scan", lambda r, _: {"scan_id": r.other_scan}, 403),
    ("another computer's scan", "get_scan", lambda r, _: {"scan_id": r.other_scan_public}, 403),
    ("another lab's scan", "get_scan", lambda r, _: {"scan_id": r.far_scan}, 404),
    ("another lab's scan", "get_scan", lambda r, _: {"scan_id": r.far_scan_public}, 404),
    (
        "another computer's scan",
        "update_scan",
        lambda r, _: {"scan_id": r.other_scan, "extra_data": {}},
        403,
    ),
    (
        "another lab's scan",
        "update_scan",
        lambda r, _: {"scan_id": r.far_scan, "extra_data": {}},
        404,
    ),
    (
        "re-filing its own scan",
        "update_scan",
        lambda r, _: {"scan_id": r.own_scan, "queue_id": r.other_queue},
        403,
    ),
    (
        "another computer's scan",
        "update_scan_status",
        lambda r, _: {"scan_id": r.other_scan, "status": "failed"},
        403,
    ),
    (
        "another lab's scan",
        "update_scan_status",
        lambda r, _: {"scan_id": r.far_scan, "status": "failed"},
        404,
    ),
    (
        "another computer's scan",
        "record_scan_status",
        lambda r, _: {"scan_id": r.other_scan, "status": "failed"},
        403,
    ),
    (
        "another lab's scan",
        "record_scan_status",
        lambda r, _: {"scan_id": r.far_scan, "status": "failed"},
        404,
    ),
    (
        "moving its own scan to another lab",
        "record_scan_status",
        lambda r, _: {"scan_id": r.own_scan, "status": "running", "lab_id": r.far_lab},
        403,
    ),
    (
        "another computer's scan",
        "add_scan_log",
        lambda r, _: {"scan_id": r.other_scan, "level": "INFO", "message": "x"},
        403,
    ),
    (
        "another lab's scan",
        "add_scan_log",
        lambda r, _: {"scan_id": r.far_scan, "level": "INFO", "message": "x"},
        404,
    ),
    # samples
    ("another lab's sample", "get_sample", lambda r, _: {"sample_pk": r.far_sample}, 404),
    (
        "another lab's sample by its ID",
        "get_sample_by_id",
        lambda r, _: {"sample_id": r.far_sample_id, "lab_id": r.far_lab},
        404,
    ),
    (
        "a sample in another lab",
        "create_sample",
        lambda r, _: {"sample_id": "NEW-1", "lab_id": r.far_lab},
        404,
    ),
    (
        "a sample in another lab's project",
        "create_sample",
        lambda r, lab: {"sample_id": "NEW-1", "lab_id": lab.lab_id, "project_id": r.far_project},
        404,
    ),
    # instruments
    (
        "another computer's bindings",
        "get_computer_bindings",
        lambda r, _: {"computer_id": r.other_computer},
        403,
    ),
    (
        "another lab's computer's bindings",
        "get_computer_bindings",
        lambda r, _: {"computer_id": r.far_computer},
        403,
    ),
    (
        "another computer's binding",
        "record_binding_use",
        lambda r, _: {"binding_id": r.other_binding, "settings": {"x": 1}},
        404,
    ),
    (
        "another lab's binding",
        "record_binding_use",
        lambda r, _: {"binding_id": r.far_binding, "settings": {"x": 1}},
        404,
    ),
    (
        "another computer's instrument",
        "update_instrument_status",
        lambda r, _: {"equipment_id": r.other_instrument, "status": "error"},
        403,
    ),
    (
        "another lab's instrument",
        "update_instrument_status",
        lambda r, _: {"equipment_id": r.far_instrument, "status": "error"},
        404,
    ),
    (
        "an instrument on another computer",
        "register_instrument_on_computer",
        lambda r, lab: {
            "described": {"name": "Other meter"},
            "lab_id": lab.lab_id,
            "computer_id": r.other_computer,
        },
        403,
    ),
    (
        "an instrument in another lab",
        "register_instrument_on_computer",
        lambda r, lab: {
            "described": {"name": "Mine"},
            "lab_id": r.far_lab,
            "computer_id": lab.computer_id,
        },
        404,
    ),
    (
        "choosing its instrument's driver definition",
        "register_instrument_on_computer",
        lambda r, lab: {
            "described": {"name": "Mine", "definition_id": 1},
            "lab_id": lab.lab_id,
            "computer_id": lab.computer_id,
        },
        403,
    ),
    # calibration and maintenance due dates
    (
        "another lab's overdue instruments",
        "overdue_instruments",
        lambda r, _: {"lab_id": r.far_lab, "names": ["Far meter"], "today": date.today()},
        404,
    ),
    (
        "another computer's overdue instruments",
        "overdue_instruments",
        lambda r, lab: {
            "lab_id": lab.lab_id,
            "names": ["Other meter"],
            "today": date.today(),
            "computer_id": r.other_computer,
        },
        403,
    ),
    ("another lab's policy", "blocks_overdue_scans", lambda r, _: {"lab_id": r.far_lab}, 404),
    # measurement data
    (
        "a measurement of another computer's scan",
        "create_measurement_object",
        lambda r, _: {"scan_id": r.other_scan, "name": "m", "layout": LAYOUT.to_json()},
        403,
    ),
    (
        "a measurement of another lab's scan",
        "create_measurement_object",
        lambda r, _: {"scan_id": r.far_scan, "name": "m", "layout": LAYOUT.to_json()},
        404,
    ),
    (
        "another computer's measurement",
        "get_stored_spans",
        lambda r, _: {"measurement_id": r.other_measurement, "first_row": 0, "end_row": 10},
        403,
    ),
    (
        "another lab's measurement",
        "get_stored_spans",
        lambda r, _: {"measurement_id": r.far_measurement, "first_row": 0, "end_row": 10},
        404,
    ),
    (
        "points into another computer's measurement",
        "store_chunks",
        lambda r, _: {"chunks": [_chunk_to(r.other_measurement)], "progress": []},
        403,
    ),
    (
        "points into another lab's measurement",
        "store_chunks",
        lambda r, _: {"chunks": [_chunk_to(r.far_measurement)], "progress": []},
        404,
    ),
    (
        "progress of another computer's scan",
        "store_chunks",
        lambda r, _: {"chunks": [], "progress": [[r.other_scan, 5, 0.5]]},
        403,
    ),
    (
        "progress of another lab's scan",
        "store_chunks",
        lambda r, _: {"chunks": [], "progress": [[r.far_scan, 5, 0.5]]},
        404,
    ),
    # what a station never needs: no such method for a computer token
    ("users", "get_user_by_username", lambda r, _: {"username": "faraway"}, 404),
    ("tokens", "create_api_token", lambda r, _: {"user_id": r.far_user, "name": "x"}, 404),
    ("computers", "list_computers", lambda r, lab: {"lab_id": lab.lab_id}, 404),
    ("another computer's token", "reset_computer_token", lambda r, _: {"computer": 1}, 404),
    ("definitions", "get_instrument_definitions", lambda r, lab: {"lab_id": lab.lab_id}, 404),
    ("scans of the lab", "search_scans", lambda r, lab: {"lab_id": lab.lab_id}, 404),
]

#: Methods that name nothing another computer or lab could own.
NAMES_NOTHING_FOREIGN = {"database_identity", "get_or_create_user"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """One lab, one computer with its token, and records of others (shared by the cases)."""
    directory = tmp_path_factory.mktemp("gateway-access")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYBIRCH_DATA_DIR", str(directory / "data"))
        with gateway_lab(f"sqlite:///{directory / 'lab.db'}") as lab:
            yield lab, build_records(lab)


_sessions: dict[int, requests.Session] = {}


def logged_in_member(world) -> requests.Session:
    """A browser session of a member of the lab, logged in once per world."""
    lab, _ = world
    if id(lab) not in _sessions:
        add_member(lab.db, lab.lab_id, "cookie member", Role.MEMBER)
        client = LabClient(lab.url, "cookie member", PASSWORD)
        client.close()
        assert client.http.get(f"{lab.url}/api/v1/labs", timeout=TIMEOUT).status_code == 200
        _sessions[id(lab)] = client.http
    return _sessions[id(lab)]


def raw_call(lab: GatewayLab, method: str, token: str | None, **kwargs: Any) -> tuple[int, Any]:
    """One gateway request as any HTTP client could send it: (status, decoded body)."""
    headers = {"Content-Type": CONTENT_TYPE}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.post(
        f"{lab.url}{GATEWAY_PREFIX}/{method}",
        data=pack({"kwargs": kwargs}),
        headers=headers,
        timeout=TIMEOUT,
    )
    return response.status_code, unpack(response.content)


@pytest.mark.parametrize(
    ("what", "method", "arguments", "status"),
    CASES,
    ids=[f"{method}: {what}" for what, method, _, _ in CASES],
)
def test_the_computer_token_is_refused_outside_its_station(
    world, what: str, method: str, arguments: Callable, status: int, caplog
) -> None:
    lab, records = world
    before = lab.db.get_queue(records.other_queue).status, lab.db.get_scan(records.far_scan).status
    with caplog.at_level(logging.WARNING, logger="pybirch.web.agent_gateway"):
        got, body = raw_call(lab, method, lab.token, **arguments(records, lab))
    assert got == status, f"{method} with {what}: {got} {body}"
    assert body["message"], "a refusal says why"
    logged = [r.getMessage() for r in caplog.records if r.name == "pybirch.web.agent_gateway"]
    assert any(f"refused {method} of computer 'Raman PC'" in line for line in logged), logged
    after = lab.db.get_queue(records.other_queue).status, lab.db.get_scan(records.far_scan).status
    assert after == before


def test_every_gateway_method_is_tried_with_what_it_must_refuse() -> None:
    tried = {method for _, method, _, _ in CASES}
    assert set(METHODS) - NAMES_NOTHING_FOREIGN <= tried
    assert not tried & NAMES_NOTHING_FOREIGN


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("credential", ["none", "user token", "replaced computer token", "cookie"])
def test_without_a_valid_computer_token_every_method_is_refused(
    world, method: str, credential: str
) -> None:
    lab, _ = world
    if credential == "user token":
        user = add_member(lab.db, lab.lab_id, f"user-{method}", Role.MEMBER)
        _, token = lab.db.create_api_token(user, "a person's token")
    elif credential == "replaced computer token":
        computer, token = lab.db.create_computer(lab.lab_id, f"Replaced {method}")
        lab.db.reset_computer_token(computer.id)
    else:
        token = None
    if credential == "cookie":  # a member's logged-in browser session, no token
        session = logged_in_member(world)
        response = session.post(
            f"{lab.url}{GATEWAY_PREFIX}/{method}",
            data=pack({"kwargs": {}}),
            headers={"Content-Type": CONTENT_TYPE},
            timeout=TIMEOUT,
        )
        status, body = response.status_code, unpack(response.content)
    else:
        status, body = raw_call(lab, method, token)
    assert status == 401, body
    assert body["error"] == "unauthorized"


def test_a_station_reads_its_own_records_and_no_one_elses(world) -> None:
    lab, records = world
    agent = lab.agent_database()
    assert agent.get_queue(records.own_queue).id == records.own_queue
    queues = agent.search_queues(lab_id=lab.lab_id, status="idle").items
    assert [queue.id for queue in queues] == [records.own_queue]
    assert agent.get_sample(records.lab_sample).sample_id == "LAB-1"
    assert agent.get_or_create_user(records.far_username).id is None  # another lab's user
    assert lab.db.get_user_by_username("nobody-here") is None
    assert agent.get_or_create_user("nobody-here").id is None
    assert lab.db.get_user_by_username("nobody-here") is None  # and no user made
    snapshot = agent.get_scan(records.own_scan)
    with pytest.raises(AttributeError, match="read-only"):
        snapshot.status = "completed"


def test_a_station_learns_only_its_own_instruments_due_dates(world) -> None:
    lab, records = world
    agent = lab.agent_database()
    mine = lab.db.register_instrument_on_computer(
        {"name": "Shared meter", "instrument_type": "measurement"}, lab.lab_id, lab.computer_id
    )
    theirs = lab.db.register_instrument_on_computer(
        {"name": "Shared meter", "instrument_type": "measurement"},
        lab.lab_id,
        records.other_computer,
    )
    since = date.today() - timedelta(days=3)
    for instrument in (mine, theirs):
        lab.db.record_calibration(
            instrument.id,
            lab_id=lab.lab_id,
            calibrated_on=since - timedelta(days=365),
            due_on=since,
        )
    names = ["Shared meter", "Other meter"]
    # Asked without a computer, the station still hears only of its own instruments.
    for computer_id in (None, lab.computer_id):
        overdue = agent.overdue_instruments(
            lab.lab_id, names, date.today(), computer_id=computer_id
        )
        assert [(item.instrument_id, item.kind, item.due) for item in overdue] == [
            (mine.id, "calibration", since)
        ]
        described = f"Shared meter on Raman PC calibration overdue since {since}"
        assert overdue[0].describe() == described
    assert agent.blocks_overdue_scans(lab.lab_id) is False
