"""A scan on an overdue instrument: a warning on its record and page, or a refusal by name.

The same rule holds for a Python script's DatabaseQueue and for the web's builder (which
queues through this server's station, on this computer's instruments).
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from database_builders import iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue, OverdueInstrumentError
from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.scan import Scan
from pybirch.station import Station, StationIdentity
from pybirch.station.wire import answer_enqueue
from pybirch.web.builder import field_id
from web_support import add_member, csrf_token, log_in, make_app, station_queues

OVERDUE_SINCE = date.today() - timedelta(days=12)


@pytest.fixture
def lab(db):
    return db.create_lab("Transport Lab")


def overdue(db, lab, name: str, instrument_type: str = "measurement"):
    """The lab's instrument ``name`` (on no computer), its calibration overdue."""
    record = db.register_instrument({"name": name, "instrument_type": instrument_type}, lab.id)
    db.record_calibration(
        record.id,
        lab_id=lab.id,
        calibrated_on=OVERDUE_SINCE - timedelta(days=365),
        due_on=OVERDUE_SINCE,
    )
    return record


def test_a_scripts_scan_on_an_overdue_instrument_runs_and_says_so(db, lab):
    meter = overdue(db, lab, "Multimeter")
    queue = DatabaseQueue("iv", db, operator="ada", lab_id=lab.id)
    settings, _ = iv_settings(points=5)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    queue.close()

    record = db.get_scan(handle.scan_id)
    assert record.status == "completed"  # a warning, never a silent block
    message = f"Multimeter calibration overdue since {OVERDUE_SINCE.isoformat()}"
    (warning,) = record.extra_data["equipment_warnings"]
    assert warning["message"] == message
    assert warning["instrument_id"] == meter.id
    logs = [(entry.level, entry.message) for entry in db.get_scan_logs(record.id)]
    assert ("WARNING", message) in logs

    add_member(db, lab.id, "vic", Role.VIEWER)
    client = make_app(db).test_client()
    log_in(client, "vic")
    page = client.get(f"/scans/{record.scan_id}").get_data(as_text=True)
    block = page[page.index('id="scan-equipment-warnings"') :]
    block = block[: block.index("</div>")]
    assert message in block
    assert f"/instruments/{meter.id}/care" in block


def test_a_scan_on_instruments_in_good_order_carries_no_warning(db, lab):
    record = db.register_instrument(
        {"name": "Multimeter", "instrument_type": "measurement"}, lab.id
    )
    db.record_calibration(
        record.id, lab_id=lab.id, calibrated_on=date.today(), due_on=date.today() + timedelta(400)
    )
    queue = DatabaseQueue("iv", db, lab_id=lab.id)
    handle = queue.enqueue(Scan(iv_settings(points=3)[0]))
    assert "equipment_warnings" not in db.get_scan(handle.scan_id).extra_data
    queue.close()


def test_a_lab_that_blocks_refuses_the_scan_naming_the_instrument(db, lab):
    overdue(db, lab, "Multimeter")
    db.update_lab(lab.id, block_overdue_scans=True)
    queue = DatabaseQueue("iv", db, lab_id=lab.id)
    with pytest.raises(OverdueInstrumentError) as refused:
        queue.enqueue(Scan(iv_settings(points=3)[0]))
    assert f"Multimeter calibration overdue since {OVERDUE_SINCE}" in str(refused.value)
    assert "this lab blocks scans on overdue instruments" in str(refused.value)
    ((item),) = refused.value.overdue
    assert (item.name, item.kind, item.due) == ("Multimeter", "calibration", OVERDUE_SINCE)
    assert len(queue) == 0
    assert db.get_queue_with_scans(queue.db_queue_id).scans == []  # nothing recorded
    queue.close()


@pytest.fixture
def app(db):
    app = make_app(db)
    app.extensions["pybirch.station"].instruments.add(*demo_instruments(delay=0.0))
    yield app
    app.extensions["pybirch.station"].close()


MAP = {
    "scan_name": "Care map",
    "queue": "new",
    "new_queue": "care",
    "axis1_instrument": "Stage X",
    "axis1_start": "0",
    "axis1_stop": "10",
    "axis1_points": "3",
    "measure": "Lock-in",
    "action": "start",
}


def builder_post(app, db, lab):
    add_member(db, lab.id, "bea", Role.MEMBER)
    client = app.test_client()
    log_in(client, "bea")
    return client.post(
        f"/builder/{lab.id}", data={**MAP, "csrf_token": csrf_token(client, "/builder/")}
    )


def test_the_builder_shows_the_refusal_beside_the_instrument(db, lab, app):
    overdue(db, lab, "Lock-in")
    db.update_lab(lab.id, block_overdue_scans=True)
    response = builder_post(app, db, lab)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    found = re.search(rf'id="{re.escape(field_id("settings_Lock-in"))}-error">([^<]*)<', page)
    assert found, "no error beside the Lock-in's settings"
    assert html.unescape(found.group(1)) == (
        f"Lock-in calibration overdue since {OVERDUE_SINCE}: "
        "this lab blocks scans on overdue instruments"
    )
    assert all(not queue.handles for queue in station_queues(app, lab.id))


def test_the_builders_scan_on_an_overdue_instrument_runs_with_the_warning(db, lab, app):
    overdue(db, lab, "Lock-in")
    response = builder_post(app, db, lab)
    assert response.status_code == 302
    scan_id = response.headers["Location"].rsplit("/", 1)[-1]
    (queue,) = station_queues(app, lab.id)
    assert queue.wait_for_completion(timeout=60)
    record = db.get_scan(scan_id)
    assert record.status == "completed"
    assert [w["instrument"] for w in record.extra_data["equipment_warnings"]] == ["Lock-in"]


def station_on(db, lab, computer):
    """A station of the demo's instruments that is ``computer`` of the lab."""
    return Station(
        db,
        InstrumentSet(*demo_instruments(0.0)),
        identity=StationIdentity(computer.id, computer.computer_name, lab.id),
    )


def line_request(lab_id: int) -> dict:
    return {
        "lab_id": lab_id,
        "design": {
            "scan_name": "line",
            "axes": [{"instrument": "Stage X", "start": 0, "stop": 1, "points": 3}],
            "measurements": ["Lock-in"],
        },
        "queue": {"name": "line queue"},
        "start": False,
    }


def test_a_lab_computer_checks_its_own_instruments_and_answers_by_field(db, lab):
    """Two computers each have a Lock-in; only the one on PC A is overdue."""
    pc_a, _ = db.create_computer(lab.id, "PC A")
    pc_b, _ = db.create_computer(lab.id, "PC B")
    late, _ = (
        db.register_instrument_on_computer(
            {"name": "Lock-in", "instrument_type": "measurement"}, lab.id, computer.id
        )
        for computer in (pc_a, pc_b)
    )
    db.record_calibration(
        late.id, lab_id=lab.id, calibrated_on=OVERDUE_SINCE - timedelta(365), due_on=OVERDUE_SINCE
    )
    db.update_lab(lab.id, block_overdue_scans=True)

    on_b = station_on(db, lab, pc_b)
    try:
        assert answer_enqueue(on_b, line_request(lab.id))["ok"]  # PC B's Lock-in is fine
    finally:
        on_b.close()
    on_a = station_on(db, lab, pc_a)
    try:
        reply = answer_enqueue(on_a, line_request(lab.id))
    finally:
        on_a.close()
    assert reply["ok"] is False
    assert reply["errors"] == {
        "settings_Lock-in": f"Lock-in on PC A calibration overdue since {OVERDUE_SINCE}: "
        "this lab blocks scans on overdue instruments"
    }
