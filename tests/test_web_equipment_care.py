"""The care page, its certificates, the dashboard's due card, the API, and the lab's rule."""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta

import pytest

from pybirch.database.models import Role
from pybirch.database.services.equipment_care import DUE_SOON_DAYS, MAX_CERTIFICATE_BYTES
from pybirch.web.lab_calendar import TODAY_KEY
from web_support import add_member, csrf_token, log_in, make_app

PDF = b"%PDF-1.5\n% a calibration certificate\n1 0 obj << >> endobj\n%%EOF\n"
DUE = date(2026, 10, 1)


@pytest.fixture
def lab(db):
    return db.create_lab("Care Lab")


@pytest.fixture
def lockin(db, lab):
    return db.create_instrument(
        "Lock-in", "measurement", lab_id=lab.id, manufacturer="SRS", model="SR830"
    )


class Calendar:
    """The app's clock, moved by the test."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture
def calendar():
    return Calendar(DUE - timedelta(days=60))


@pytest.fixture
def app(db, calendar):
    app = make_app(db)
    app.extensions[TODAY_KEY] = calendar
    return app


def login(app, db, lab, name: str, role: Role):
    add_member(db, lab.id, name, role)
    client = app.test_client()
    log_in(client, name)
    return client


def upload(client, instrument_id: int, data: bytes, filename: str = "cert.pdf", **fields):
    token = csrf_token(client, f"/instruments/{instrument_id}/care")
    return client.post(
        f"/instruments/{instrument_id}/care/calibrations",
        data={
            "calibrated_on": "2025-10-01",
            "due_on": DUE.isoformat(),
            "performed_by": "SRS service",
            "csrf_token": token,
            "certificate": (io.BytesIO(data), filename),
            **fields,
        },
        content_type="multipart/form-data",
    )


def test_a_member_records_a_calibration_with_its_certificate_and_anyone_in_the_lab_reads_it(
    app, db, lab, lockin
):
    member = login(app, db, lab, "mia", Role.MEMBER)
    response = upload(member, lockin.id, PDF, "C:\\fakepath\\SR830 cert.pdf")
    assert response.status_code == 302
    assert db.get_instrument(lockin.id).calibration_due == DUE

    page = member.get(f"/instruments/{lockin.id}/care").get_data(as_text=True)
    assert "SR830 cert.pdf" in page
    assert "due in 60 days" not in page  # 60 days away: ok, not due soon
    assert f"ok until {DUE}" in page

    viewer = login(app, db, lab, "vic", Role.VIEWER)
    (calibration,) = db.list_calibrations(lockin.id, lab_id=lab.id)
    download = viewer.get(
        f"/instruments/{lockin.id}/care/calibrations/{calibration.id}/certificate"
    )
    assert download.status_code == 200
    assert download.data == PDF
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "SR830 cert.pdf" in download.headers["Content-Disposition"]
    assert hashlib.sha256(download.data).hexdigest() == calibration.certificate_sha256

    viewer_page = viewer.get(f"/instruments/{lockin.id}/care").get_data(as_text=True)
    assert "Record calibration" not in viewer_page  # viewers read only
    refused = upload(viewer, lockin.id, PDF)
    assert refused.status_code == 403
    assert len(db.list_calibrations(lockin.id, lab_id=lab.id)) == 1


def test_another_lab_gets_404_for_the_page_and_the_certificate(app, db, lab, lockin):
    calibration = db.record_calibration(
        lockin.id, lab_id=lab.id, calibrated_on=DUE, certificate=PDF, certificate_name="c.pdf"
    )
    other = db.create_lab("Other Lab")
    outsider = login(app, db, other, "otto", Role.OWNER)
    assert outsider.get(f"/instruments/{lockin.id}/care").status_code == 404
    url = f"/instruments/{lockin.id}/care/calibrations/{calibration.id}/certificate"
    assert outsider.get(url).status_code == 404
    # Their own instrument's URL with this lab's calibration id finds nothing either.
    theirs = db.create_instrument("Lock-in", "measurement", lab_id=other.id)
    stolen = f"/instruments/{theirs.id}/care/calibrations/{calibration.id}/certificate"
    assert outsider.get(stolen).status_code == 404
    assert outsider.get(f"/api/instruments/{lockin.id}/calibrations").status_code == 404


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-" + b"0" * MAX_CERTIFICATE_BYTES, "big.pdf", "at most 10 MB"),
        (b"<svg onload=alert(1)>", "evil.pdf", "PDF, PNG or JPEG"),
        (PDF, "cert.exe", "File does not have an approved extension"),
    ],
)
def test_a_bad_certificate_is_refused_with_the_form_kept(
    app, db, lab, lockin, data, filename, message
):
    member = login(app, db, lab, "mia", Role.MEMBER)
    response = upload(member, lockin.id, data, filename, notes="after the repair")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "after the repair" in page  # what was typed is still there
    assert db.list_calibrations(lockin.id, lab_id=lab.id) == []


def test_maintenance_is_logged_and_the_schedule_moves_on(app, db, lab, lockin, calendar):
    member = login(app, db, lab, "mia", Role.MEMBER)
    token = csrf_token(member, f"/instruments/{lockin.id}/care")
    schedule = member.post(
        f"/instruments/{lockin.id}/care/schedule",
        data={"interval_days": "90", "next_due": calendar.day.isoformat(), "csrf_token": token},
    )
    assert schedule.status_code == 302
    logged = member.post(
        f"/instruments/{lockin.id}/care/maintenance",
        data={
            "performed_on": calendar.day.isoformat(),
            "performed_by": "Mia",
            "description": "Replaced the cooling fan",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    page = logged.get_data(as_text=True)
    assert "Replaced the cooling fan" in page
    assert str(calendar.day + timedelta(days=90)) in page
    assert db.get_instrument(lockin.id).next_maintenance == calendar.day + timedelta(days=90)
    bad = member.post(
        f"/instruments/{lockin.id}/care/maintenance",
        data={"performed_on": "2026-08-01", "performed_by": "", "csrf_token": token},
    )
    assert bad.status_code == 400
    assert len(db.list_maintenance(lockin.id, lab_id=lab.id)) == 1


def test_a_calibration_falling_due_shows_on_the_dashboard_and_instruments_list(
    app, db, lab, lockin, calendar
):
    """The same instrument, day after day: absent, due soon, due today, overdue."""
    db.record_calibration(lockin.id, lab_id=lab.id, calibrated_on=date(2025, 10, 1), due_on=DUE)
    viewer = login(app, db, lab, "vic", Role.VIEWER)

    def care_card() -> str:
        page = viewer.get(f"/?lab={lab.id}").get_data(as_text=True)
        start = page.index('id="care-due"')
        return page[start : page.index("</section>", start)]

    calendar.day = DUE - timedelta(days=DUE_SOON_DAYS + 1)
    assert "No calibration or maintenance falls due" in care_card()
    assert "Lock-in" not in care_card()

    calendar.day = DUE - timedelta(days=DUE_SOON_DAYS)
    card = care_card()
    assert "Lock-in" in card
    assert f"due in {DUE_SOON_DAYS} days" in card
    assert f"/instruments/{lockin.id}/care" in card

    calendar.day = DUE
    assert "due today" in care_card()

    calendar.day = DUE + timedelta(days=1)
    card = care_card()
    assert f"overdue since {DUE}" in card
    listing = viewer.get(f"/instruments/?lab={lab.id}").get_data(as_text=True)
    assert 'class="due overdue"' in listing
    assert f"calibration overdue since {DUE}" in listing

    due = viewer.get("/api/instruments/due").get_json()
    assert due["today"] == str(DUE + timedelta(days=1))
    assert [(i["name"], i["calibration"]) for i in due["items"]] == [
        ("Lock-in", {"state": "overdue", "due": str(DUE)})
    ]


def test_the_api_records_and_lists_calibrations(app, db, lab, lockin):
    add_member(db, lab.id, "script", Role.MEMBER)
    token = db.create_api_token(db.get_user_by_username("script").id, "care")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/instruments/{lockin.id}/calibrations"

    made = client.post(
        url, json={"calibrated_on": "2026-01-10", "due_on": "2027-01-10"}, headers=headers
    )
    assert made.status_code == 201
    assert made.get_json()["certificate"] is None
    with_file = client.post(
        url,
        data={"calibrated_on": "2026-06-01", "certificate": (io.BytesIO(PDF), "june.pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert with_file.status_code == 201
    certificate = with_file.get_json()["certificate"]
    assert certificate["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert client.get(certificate["url"], headers=headers).data == PDF

    listed = client.get(url, headers=headers).get_json()
    assert [c["calibrated_on"] for c in listed["items"]] == ["2026-06-01", "2026-01-10"]
    assert listed["instrument"]["calibration"]["due"] is None  # the newest has no due date

    bad = client.post(url, json={"calibrated_on": "next tuesday"}, headers=headers)
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.get_json()["error"]["message"]
    late = client.post(
        url, json={"calibrated_on": "2026-06-01", "due_on": "2026-01-01"}, headers=headers
    )
    assert late.status_code == 400
    assert "before" in late.get_json()["error"]["message"]
    assert len(db.list_calibrations(lockin.id, lab_id=lab.id)) == 2


def test_only_an_admin_sets_the_labs_rule_for_overdue_instruments(app, db, lab):
    member = login(app, db, lab, "mia", Role.MEMBER)
    assert member.get(f"/labs/{lab.id}/edit").status_code == 403
    admin = login(app, db, lab, "ada", Role.ADMIN)
    page = admin.get(f"/labs/{lab.id}/edit").get_data(as_text=True)
    assert "Refuse scans on instruments whose calibration or maintenance is overdue" in page
    token = csrf_token(admin, f"/labs/{lab.id}/edit")
    saved = admin.post(
        f"/labs/{lab.id}/edit",
        data={"name": lab.name, "block_overdue_scans": "y", "csrf_token": token},
    )
    assert saved.status_code == 302
    assert db.get_lab(lab.id).block_overdue_scans is True
    admin.post(f"/labs/{lab.id}/edit", data={"name": lab.name, "csrf_token": token})
    assert db.get_lab(lab.id).block_overdue_scans is False
