"""An instrument's page on the server's own station (``pybirch serve``): what it shows, and
a member's manual control (move a stage, read once, apply settings), every action logged.

The instruments are the demo's simulated ones and a spectrometer, bound to this computer
and loaded by its station as ``pybirch serve`` loads them; scans are real scans run on it.
The same control through a lab computer's agent is in ``test_instrument_control_on_agents``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from database_builders import bind_spectrometer
from lab_client import wait_for
from pybirch.database.models import Role
from pybirch.demo.web_lab import bind_demo_instruments
from pybirch.scan.design import Axis, ScanDesign
from pybirch.station import EnqueueRequest, QueueChoice
from pybirch.web.status_timeline import status_segments
from web_support import add_member, csrf_token, log_in, make_app, post_form

#: Seconds any wait in these tests may last: generous, the machine is shared.
PATIENCE = 60.0


@pytest.fixture
def lab(db):
    return db.create_lab("Optics Lab")


@pytest.fixture
def app(db, lab, monkeypatch):
    """The server's station: this computer, with the demo's instruments and a spectrometer."""
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "optics-server")
    app = make_app(db)
    station = app.extensions["pybirch.station"]
    identity = station.register_as_this_computer()
    bind_demo_instruments(db, lab.id, identity.computer_id, delay=0.0)
    bind_spectrometer(db, lab.id, identity.computer_id, pixels=256)
    loaded = station.discover()
    assert not loaded.failures, loaded.failures
    yield app
    station.close()


def signed_in(app, db, lab, name: str, role: Role):
    add_member(db, lab.id, name, role)
    client = app.test_client()
    log_in(client, name)
    return client


def record_of(db, app, lab, name: str):
    """The lab's instrument record called ``name`` on the server's computer."""
    computer_id = app.extensions["pybirch.station"].identity.computer_id
    return db.get_instrument_by_name(name, lab.id, computer_id=computer_id)


def live(app, name: str):
    return app.extensions["pybirch.station"].instruments.get(name)


def api_post(client, path: str, body: dict | None = None):
    """A browser's JSON post: the session cookie and the page's CSRF token."""
    return client.post(path, json=body or {}, headers={"X-CSRFToken": csrf_token(client, "/")})


def run_scan(app, lab_id: int, name: str, points: int, *, start: bool = True) -> str:
    """A scan of Stage X read by the Lock-in on the server's station; its id."""
    station = app.extensions["pybirch.station"]
    design = ScanDesign(name, "optics", [Axis("Stage X", 0.0, 10.0, points)], ["Lock-in"])
    enqueued = station.enqueue(
        EnqueueRequest(lab_id, design, QueueChoice(name=f"queue {name}"), start=start)
    )
    return enqueued.scan_id


def finish(app, scan_id: str) -> None:
    station = app.extensions["pybirch.station"]
    for summary in station.queues():
        queue = station.queue(summary.id)
        if any(handle.scan_id == scan_id for handle in queue.handles):
            assert queue.wait_for_completion(PATIENCE)
            return
    raise AssertionError(f"no queue runs {scan_id}")


# -- what the page shows ---------------------------------------------------------------------


def test_the_page_shows_driver_binding_timeline_and_scans(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    for name in ("first sweep", "second sweep"):
        latest = run_scan(app, lab.id, name, 3)
        finish(app, latest)
        # The health monitor marks the stage connected again once the scan lets it go.
        wait_for(lambda: db.get_instrument(stage.id).status == "connected", PATIENCE, "stage free")
    db.update_instrument_status(stage.id, "error", error_message="GPIB timeout on move")
    db.update_instrument_status(stage.id, "connected")
    viewer = signed_in(app, db, lab, "vera", Role.VIEWER)

    page = viewer.get(f"/instruments/{stage.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<h1>Stage X <span class="sub">{lab.name}</span></h1>' in text
    computer = db.get_computer(app.extensions["pybirch.station"].identity.computer_id)
    assert f"On {computer.display_name}" in text
    # the driver this computer loaded, and its version
    driver = text.split('class="loaded-driver">', 1)[1].split("</dd>", 1)[0]
    assert "installed FakeStage" in driver
    binding = db.get_instrument_bindings(stage.id, lab_id=lab.id)[0]
    assert f"package version {binding['loaded_driver']['version']}" in driver
    assert "none: an installed driver or driver file" in text  # no stored definition
    assert "0 to 100 mm" in text  # its travel, from the live station
    # the timeline: busy during each scan, then the error; the table lists changes newest first
    timeline = text.split('class="timeline"', 1)[1].split("</svg>", 1)[0]
    busy_twice = ["connected", "busy", "connected", "busy", "connected"]
    assert re.findall(r'class="segment (\w+)"', timeline) == [*busy_twice, "error", "connected"]
    changes = text.split('class="changes"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'class="status (\w+)"', changes) == [
        "connected",
        "error",
        *reversed(busy_twice),
    ]
    assert "GPIB timeout on move" in changes
    assert "<time datetime=" in changes  # shown in the browser's zone by local_times.js
    # the scans it took part in, newest first, linked to their pages
    scans = text.split('id="instrument-scans"', 1)[1]
    assert scans.index("second sweep") < scans.index("first sweep")
    assert f'href="/scans/{latest}"' in scans
    assert f'href="/instruments/{stage.id}/care"' in text
    care = text.split('id="care-state"', 1)[1].split("</p>", 1)[0]
    assert "calibration not scheduled" in care
    assert "maintenance not scheduled" in care
    # a viewer sees no control
    for control in ("Apply these", ">Move<", "Read once", "Apply settings"):
        assert control not in text


def test_scans_are_those_of_this_instrument_on_its_computer_paginated(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    lockin = record_of(db, app, lab, "Lock-in")
    spectrometer = record_of(db, app, lab, "Spectrometer")
    names = [f"sweep {i}" for i in range(22)]
    for name in names:
        run_scan(app, lab.id, name, 2, start=False)
    station = app.extensions["pybirch.station"]
    for summary in station.queues(lab.id):
        station.queue(summary.id).start()
    for summary in station.queues(lab.id):
        assert station.queue(summary.id).wait_for_completion(PATIENCE)
    # a scan elsewhere that names a "Stage X" of another computer is not this instrument's
    other, _ = db.create_computer(lab.id, "Other PC")
    queue = db.create_or_reuse_queue(
        "elsewhere", lab_id=lab.id, extra_data={"computer_id": other.id}
    )
    db.create_scan(
        "on the other stage",
        lab_id=lab.id,
        queue_id=queue.id,
        driver_versions={"Stage X": {"kind": "installed"}},
    )
    member = signed_in(app, db, lab, "mia", Role.MEMBER)

    def listed(instrument_id: int, page: int = 1) -> list[str]:
        text = member.get(f"/instruments/{instrument_id}?page={page}").get_data(as_text=True)
        section = text.split('id="instrument-scans"', 1)[1]
        return re.findall(r'<a href="/scans/\w+">([^<]+)</a>', section)

    first, second = listed(stage.id), listed(stage.id, 2)
    assert first == list(reversed(names))[:20]
    assert second == list(reversed(names))[20:]
    assert "on the other stage" not in first + second
    assert len(listed(lockin.id)) == 20  # read in every sweep
    assert listed(spectrometer.id) == []  # in none


# -- manual control through the server's own station ---------------------------------------


def test_apply_these_sets_the_live_instrument_and_writes_them_back(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    (binding,) = db.get_instrument_bindings(stage.id, lab_id=lab.id)
    # settings recorded on an earlier day, not what the stage runs with now
    db.record_binding_use(binding["id"], settings={**binding["last_settings"], "speed": 2.5})
    assert live(app, "Stage X").settings["speed"] == 0.0
    member = signed_in(app, db, lab, "mia", Role.MEMBER)
    page = member.get(f"/instruments/{stage.id}").get_data(as_text=True)
    assert "Apply these" in page

    done = post_form(
        member, f"/instruments/{stage.id}/apply-last", computer_id=binding["computer_id"]
    )
    text = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "Settings applied to Stage X" in text
    assert live(app, "Stage X").settings["speed"] == 2.5  # the station's instrument has them
    (written,) = db.get_instrument_bindings(stage.id, lab_id=lab.id)
    assert written["last_settings"]["speed"] == 2.5
    assert db.get_instrument(stage.id).last_settings["speed"] == 2.5
    (action,) = db.get_instrument_actions(stage.id)
    assert (action.action, action.outcome) == ("apply_settings", "done")
    assert db.get_user(action.created_by_id).username == "mia"
    assert action.request["settings"]["speed"] == 2.5


def test_the_settings_form_applies_changed_values_and_refuses_bad_ones(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    member = signed_in(app, db, lab, "mia", Role.MEMBER)
    page = member.get(f"/instruments/{stage.id}").get_data(as_text=True)
    form = page.split('class="settings-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="setting-speed"' in form
    assert 'min="0"' in form  # from the schema
    shown = dict(re.findall(r'name="(setting-\w+)" value="([^"]*)"', form))

    done = post_form(
        member, f"/instruments/{stage.id}/settings", **{**shown, "setting-speed": "7.5"}
    )
    assert "Settings applied to Stage X" in done.get_data(as_text=True)
    assert live(app, "Stage X").settings["speed"] == 7.5
    assert db.get_instrument(stage.id).last_settings["speed"] == 7.5
    assert db.get_instrument_actions(stage.id)[0].request == {"settings": {"speed": 7.5}}

    refused = post_form(
        member, f"/instruments/{stage.id}/settings", **{**shown, "setting-speed": "-3"}
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Refused on" in text
    assert "speed" in text
    assert live(app, "Stage X").settings["speed"] == 7.5  # unchanged
    assert db.get_instrument(stage.id).last_settings["speed"] == 7.5
    assert db.get_instrument_actions(stage.id)[0].outcome == "refused"

    unchanged = post_form(
        member, f"/instruments/{stage.id}/settings", **shown | {"setting-speed": "7.5"}
    )
    assert unchanged.status_code == 400
    assert "nothing changed" in unchanged.get_data(as_text=True)


def test_a_member_moves_a_stage_and_reads_once_on_the_server(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    lockin = record_of(db, app, lab, "Lock-in")
    spectrometer = record_of(db, app, lab, "Spectrometer")
    member = signed_in(app, db, lab, "mia", Role.MEMBER)

    moved = post_form(member, f"/instruments/{stage.id}/move", position="12.5")
    assert moved.status_code == 200
    assert '<strong class="moved-to">12.5 mm</strong>' in moved.get_data(as_text=True)
    assert live(app, "Stage X").position == 12.5

    read = post_form(member, f"/instruments/{lockin.id}/measure")
    text = read.get_data(as_text=True)
    table = text.split('class="reading-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<th>([^<]+)</th>", table) == ["X (V)", "Y (V)", "R (V)", "Theta (deg)"]
    assert len(re.findall(r'<td class="number">', table)) == 4

    spectrum = post_form(member, f"/instruments/{spectrometer.id}/measure")
    text = spectrum.get_data(as_text=True)
    assert "256 rows of 2 columns" in text
    points = re.search(r'<polyline points="([^"]+)"', text).group(1).split()
    assert len(points) == 256
    assert "intensity (counts)" in text
    assert "wavelength (nm)" in text

    outside = post_form(member, f"/instruments/{stage.id}/move", position="150")
    assert "outside the limits [0, 100]" in outside.get_data(as_text=True)
    assert live(app, "Stage X").position == 12.5
    nonsense = post_form(member, f"/instruments/{stage.id}/move", position="far away")
    assert nonsense.status_code == 400
    assert "is not a number" in nonsense.get_data(as_text=True)

    actions = db.get_instrument_actions(stage.id)
    assert [(a.action, a.outcome, a.request) for a in actions] == [
        ("move", "refused", {"position": 150.0}),
        ("move", "done", {"position": 12.5}),
    ]
    (reading,) = db.get_instrument_actions(spectrometer.id)
    assert reading.result["rows"] == 256  # a long reading is kept by its shape
    page = member.get(f"/instruments/{stage.id}").get_data(as_text=True)
    log = page.split('id="manual-actions"', 1)[1].split("</table>", 1)[0]
    assert "move to 150" in log
    assert "move to 12.5" in log
    assert "mia" in log


def test_a_scan_holding_the_instrument_refuses_manual_control(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    live(app, "Stage X").settings = {"delay": 0.05}  # long enough to be caught running
    scan_id = run_scan(app, lab.id, "long sweep", 10_000)
    member = signed_in(app, db, lab, "mia", Role.MEMBER)

    refused = api_post(member, f"/api/instruments/{stage.id}/move", {"position": 3})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["outcome"] == "refused"
    assert "a scan that has not ended uses Stage X" in body["message"]
    settings = api_post(member, f"/api/instruments/{stage.id}/settings", {"settings": {"speed": 1}})
    assert settings.status_code == 409
    assert live(app, "Stage X").settings["speed"] == 0.0

    station = app.extensions["pybirch.station"]
    (summary,) = station.queues(lab.id)
    station.control(summary.id, "abort")
    finish(app, scan_id)
    done = api_post(member, f"/api/instruments/{stage.id}/move", {"position": 3})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["result"] == {"position": 3.0, "units": "mm"}


def test_a_slow_or_failing_instrument_comes_back_as_a_message(app, db, lab, monkeypatch):
    stage = record_of(db, app, lab, "Stage X")
    lockin = record_of(db, app, lab, "Lock-in")
    member = signed_in(app, db, lab, "mia", Role.MEMBER)
    station = app.extensions["pybirch.station"]
    monkeypatch.setattr(station, "manual_timeout", 0.2)
    live(app, "Stage X").settings = {"delay": 1.0}

    slow = api_post(member, f"/api/instruments/{stage.id}/move", {"position": 4})
    assert slow.status_code == 409
    assert slow.get_json()["outcome"] == "failed"
    assert "did not finish within 0.2 s" in slow.get_json()["message"]

    def broken() -> None:
        raise OSError("VI_ERROR_TMO: the lock-in stopped answering")

    monkeypatch.setattr(live(app, "Lock-in"), "perform_measurement", broken)
    failed = post_form(member, f"/instruments/{lockin.id}/measure")
    text = failed.get_data(as_text=True)
    assert failed.status_code == 200
    assert "The instrument failed on" in text
    assert "the lock-in stopped answering" in text
    assert db.get_instrument_actions(lockin.id)[0].outcome == "failed"


# -- the API -------------------------------------------------------------------------------


def test_the_api_gives_the_instrument_and_controls_it(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    lockin = record_of(db, app, lab, "Lock-in")
    member = signed_in(app, db, lab, "mia", Role.MEMBER)

    detail = member.get(f"/api/instruments/{stage.id}").get_json()
    assert detail["name"] == "Stage X"
    assert detail["type"] == "movement"
    (computer,) = detail["computers"]
    assert computer["online"] is True
    assert computer["loaded_driver"]["kind"] == "installed"
    assert computer["live"]["limits"] == [0.0, 100.0]
    assert computer["live"]["position_units"] == "mm"
    assert computer["last_settings"]["axis"] == "x"
    assert detail["status_history"][0]["status"] == "connected"

    moved = api_post(member, f"/api/instruments/{stage.id}/move", {"position": 42})
    assert moved.status_code == 200
    assert moved.get_json()["result"]["position"] == 42.0
    read = api_post(member, f"/api/instruments/{lockin.id}/measure")
    assert read.get_json()["result"]["columns"] == ["X", "Y", "R", "Theta"]
    wrong = api_post(member, f"/api/instruments/{lockin.id}/move", {"position": 1})
    assert wrong.status_code == 409
    assert "Lock-in measures; it does not move" in wrong.get_json()["message"]
    bad = api_post(member, f"/api/instruments/{stage.id}/move", {"position": "NaN"})
    assert bad.status_code == 400
    assert "not a finite number" in bad.get_json()["error"]["message"]
    applied = api_post(member, f"/api/instruments/{stage.id}/settings", {"settings": {"speed": 3}})
    assert applied.get_json()["result"]["settings"]["speed"] == 3
    assert live(app, "Stage X").settings["speed"] == 3
    # a cookie session without the CSRF token is refused, and nothing moves
    forged = member.post(f"/api/instruments/{stage.id}/move", json={"position": 1})
    assert forged.status_code == 400
    assert live(app, "Stage X").position == 42.0


def test_a_viewer_sees_but_cannot_control_and_another_lab_sees_nothing(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    viewer = signed_in(app, db, lab, "vera", Role.VIEWER)
    assert viewer.get(f"/instruments/{stage.id}").status_code == 200
    assert viewer.get(f"/api/instruments/{stage.id}").status_code == 200
    assert post_form(viewer, f"/instruments/{stage.id}/move", position="5").status_code == 403
    assert api_post(viewer, f"/api/instruments/{stage.id}/move", {"position": 5}).status_code == 403
    assert live(app, "Stage X").position == 0.0

    other = db.create_lab("Elsewhere")
    outsider = signed_in(app, db, other, "otto", Role.OWNER)
    assert outsider.get(f"/instruments/{stage.id}").status_code == 404
    assert outsider.get(f"/api/instruments/{stage.id}").status_code == 404
    assert post_form(outsider, f"/instruments/{stage.id}/move", position="5").status_code == 404
    assert api_post(outsider, f"/api/instruments/{stage.id}/measure").status_code == 404
    assert live(app, "Stage X").position == 0.0
    assert db.get_instrument_actions(stage.id) == []


def test_the_page_says_when_calibration_is_overdue_and_links_to_its_care(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    today = app.extensions.get("pybirch.today", date.today)()
    db.update_instrument(stage.id, calibration_due=today - timedelta(days=3))
    db.update_instrument(stage.id, next_maintenance=today + timedelta(days=5))
    viewer = signed_in(app, db, lab, "vera", Role.VIEWER)
    text = viewer.get(f"/instruments/{stage.id}").get_data(as_text=True)
    care = text.split('id="care-state"', 1)[1].split("</p>", 1)[0]
    overdue = f'class="due overdue" href="/instruments/{stage.id}/care"'
    assert overdue in care
    assert f"calibration overdue since {today - timedelta(days=3)}" in care
    assert "maintenance due in 5 days" in care
    back = viewer.get(f"/instruments/{stage.id}/care").get_data(as_text=True)
    assert f'href="/instruments/{stage.id}">Instrument page' in back


def test_the_instrument_lists_link_to_the_page(app, db, lab):
    stage = record_of(db, app, lab, "Stage X")
    viewer = signed_in(app, db, lab, "vera", Role.VIEWER)
    listing = viewer.get(f"/instruments/?lab={lab.id}").get_data(as_text=True)
    assert f'href="/instruments/{stage.id}"' in listing
    computer_id = app.extensions["pybirch.station"].identity.computer_id
    bound = viewer.get(f"/computers/{computer_id}/instruments?lab={lab.id}").get_data(as_text=True)
    assert f'href="/instruments/{stage.id}"' in bound


def test_a_timeline_joins_repeated_statuses_and_ends_now():
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta

    @dataclass
    class Row:
        status: str
        updated_at: datetime
        error_message: str | None = None

    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    rows = [
        Row("connected", start + timedelta(hours=3)),  # any order
        Row("connected", start),
        Row("error", start + timedelta(hours=6), "lost"),
        Row("connected", start + timedelta(hours=7)),
    ]
    segments = status_segments(rows, start + timedelta(hours=10))
    assert [(s.status, s.seconds / 3600) for s in segments] == [
        ("connected", 6.0),
        ("error", 1.0),
        ("connected", 3.0),
    ]
    assert [round(s.percent) for s in segments] == [60, 10, 30]
    assert [round(s.offset) for s in segments] == [0, 60, 70]
    assert segments[1].error == "lost"
    assert status_segments([], start) == []
