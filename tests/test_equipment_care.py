"""Calibration and maintenance records: due states, certificates, the log, and lab walls."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from pybirch.database.errors import NotFoundError
from pybirch.database.services.equipment_care import (
    DUE_SOON_DAYS,
    MAX_CERTIFICATE_BYTES,
    CertificateError,
    DueState,
    EquipmentCareError,
    date_state,
)

TODAY = date(2026, 9, 1)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


@pytest.fixture
def lab(db):
    return db.create_lab("Optics")


@pytest.fixture
def lockin(db, lab):
    return db.create_instrument("Lock-in", "measurement", lab_id=lab.id)


@pytest.mark.parametrize(
    ("due", "state"),
    [
        (None, DueState.UNTRACKED),
        (TODAY + timedelta(days=DUE_SOON_DAYS + 1), DueState.OK),
        (TODAY + timedelta(days=DUE_SOON_DAYS), DueState.DUE_SOON),
        (TODAY + timedelta(days=1), DueState.DUE_SOON),
        (TODAY, DueState.DUE_SOON),  # due today: still usable today
        (TODAY - timedelta(days=1), DueState.OVERDUE),
    ],
)
def test_due_state_boundaries(due, state):
    assert date_state(due, TODAY) is state


def test_a_calibration_sets_the_instruments_dates_and_keeps_its_certificate(db, lab, lockin):
    record = db.record_calibration(
        lockin.id,
        lab_id=lab.id,
        calibrated_on=date(2026, 3, 1),
        due_on=date(2027, 3, 1),
        performed_by="  Keysight   service centre ",
        certificate=PDF,
        certificate_name="../../cert 2026.PDF",
    )
    instrument = db.get_instrument(lockin.id)
    assert (instrument.calibration_date, instrument.calibration_due) == (
        date(2026, 3, 1),
        date(2027, 3, 1),
    )
    assert record.performed_by == "Keysight service centre"
    assert record.certificate_type == "application/pdf"
    assert record.certificate_size == len(PDF)
    assert record.certificate_sha256 == hashlib.sha256(PDF).hexdigest()
    assert record.certificate_name == "cert 2026.pdf"  # no path survives

    certificate = db.get_certificate(record.id, lab_id=lab.id, instrument_id=lockin.id)
    assert (certificate.data, certificate.media_type) == (PDF, "application/pdf")

    # An older calibration entered late joins the history without replacing the current one.
    db.record_calibration(
        lockin.id, lab_id=lab.id, calibrated_on=date(2025, 3, 1), due_on=date(2026, 3, 1)
    )
    assert db.get_instrument(lockin.id).calibration_due == date(2027, 3, 1)
    history = db.list_calibrations(lockin.id, lab_id=lab.id)
    assert [c.calibrated_on for c in history] == [date(2026, 3, 1), date(2025, 3, 1)]
    assert db.due_state(lockin.id, date(2027, 3, 2)).calibration is DueState.OVERDUE


def test_another_lab_finds_neither_the_instrument_nor_the_certificate(db, lab, lockin):
    other = db.create_lab("Elsewhere")
    record = db.record_calibration(
        lockin.id, lab_id=lab.id, calibrated_on=TODAY, certificate=PDF, certificate_name="c.pdf"
    )
    with pytest.raises(NotFoundError):
        db.get_certificate(record.id, lab_id=other.id)
    with pytest.raises(NotFoundError):
        db.get_certificate(record.id, lab_id=lab.id, instrument_id=lockin.id + 1)
    with pytest.raises(NotFoundError):
        db.list_calibrations(lockin.id, lab_id=other.id)
    with pytest.raises(NotFoundError):
        db.record_calibration(lockin.id, lab_id=other.id, calibrated_on=TODAY)
    with pytest.raises(NotFoundError):
        db.add_maintenance_entry(
            lockin.id, lab_id=other.id, performed_on=TODAY, performed_by="x", description="y"
        )
    assert db.list_calibrations(lockin.id, lab_id=lab.id)[0].id == record.id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00 an executable", "PDF, PNG or JPEG"),
        (b"<html><script>alert(1)</script>", "PDF, PNG or JPEG"),
        (b"%PDF-" + b"0" * MAX_CERTIFICATE_BYTES, "at most 10 MB"),
    ],
)
def test_a_bad_certificate_is_refused_and_nothing_is_kept(db, lab, lockin, data, message):
    with pytest.raises(CertificateError, match=message):
        db.record_calibration(lockin.id, lab_id=lab.id, calibrated_on=TODAY, certificate=data)
    assert db.list_calibrations(lockin.id, lab_id=lab.id) == []
    assert db.get_instrument(lockin.id).calibration_date is None


def test_a_calibration_cannot_fall_due_before_it_was_made(db, lab, lockin):
    with pytest.raises(EquipmentCareError, match="before"):
        db.record_calibration(
            lockin.id, lab_id=lab.id, calibrated_on=TODAY, due_on=TODAY - timedelta(days=1)
        )


def test_maintenance_advances_by_the_interval(db, lab, lockin):
    db.set_maintenance_schedule(lockin.id, lab_id=lab.id, interval_days=90, next_due=TODAY)
    assert db.due_state(lockin.id, TODAY).maintenance is DueState.DUE_SOON
    entry = db.add_maintenance_entry(
        lockin.id,
        lab_id=lab.id,
        performed_on=TODAY,
        performed_by="Ada",
        description="Cleaned the fan filter; replaced the BNC on input A.",
    )
    assert entry.next_due == TODAY + timedelta(days=90)
    assert db.get_instrument(lockin.id).next_maintenance == TODAY + timedelta(days=90)
    assert db.due_state(lockin.id, TODAY).maintenance is DueState.OK

    # An explicit next date wins; an older entry entered late moves nothing.
    db.add_maintenance_entry(
        lockin.id,
        lab_id=lab.id,
        performed_on=TODAY + timedelta(days=10),
        performed_by="Ada",
        description="Firmware update",
        next_due=TODAY + timedelta(days=40),
    )
    db.add_maintenance_entry(
        lockin.id,
        lab_id=lab.id,
        performed_on=TODAY - timedelta(days=100),
        performed_by="Bob",
        description="Old entry from the paper log",
    )
    assert db.get_instrument(lockin.id).next_maintenance == TODAY + timedelta(days=40)
    log = db.list_maintenance(lockin.id, lab_id=lab.id)
    assert [e.performed_by for e in log] == ["Ada", "Ada", "Bob"]
    with pytest.raises(EquipmentCareError, match="who did"):
        db.add_maintenance_entry(
            lockin.id, lab_id=lab.id, performed_on=TODAY, performed_by=" ", description="x"
        )


def test_a_calibration_falling_due(db, lab, lockin):
    """The lab's due list follows the calendar: not yet, due soon, due today, overdue."""
    db.create_instrument("Stage", "movement", lab_id=lab.id)  # never calibrated: never listed
    due = date(2026, 10, 1)
    db.record_calibration(lockin.id, lab_id=lab.id, calibrated_on=date(2025, 10, 1), due_on=due)

    def listed(today):
        return [(i.name, care.calibration) for i, care in db.due_instruments(lab.id, today)]

    assert listed(due - timedelta(days=DUE_SOON_DAYS + 1)) == []
    assert listed(due - timedelta(days=DUE_SOON_DAYS)) == [("Lock-in", DueState.DUE_SOON)]
    assert listed(due) == [("Lock-in", DueState.DUE_SOON)]
    assert listed(due + timedelta(days=1)) == [("Lock-in", DueState.OVERDUE)]
    assert db.due_instruments(db.create_lab("Elsewhere").id, due + timedelta(days=1)) == []


def test_overdue_instruments_of_a_scan_follow_its_computer(db, lab):
    due = date(2026, 10, 1)
    late = due + timedelta(days=5)
    pc_a, _ = db.create_computer(lab.id, "PC A")
    pc_b, _ = db.create_computer(lab.id, "PC B")
    on_a = db.register_instrument_on_computer(
        {"name": "Lock-in", "instrument_type": "measurement"}, lab.id, pc_a.id
    )
    db.register_instrument_on_computer(
        {"name": "Lock-in", "instrument_type": "measurement"}, lab.id, pc_b.id
    )
    db.record_calibration(on_a.id, lab_id=lab.id, calibrated_on=date(2025, 10, 1), due_on=due)

    (found,) = db.overdue_instruments(lab.id, ["Lock-in", "Stage"], late, computer_id=pc_a.id)
    assert found.describe() == "Lock-in on PC A calibration overdue since 2026-10-01"
    assert db.overdue_instruments(lab.id, ["Lock-in"], late, computer_id=pc_b.id) == []
    # Without a computer every Lock-in of the lab may be the one used.
    assert [f.instrument_id for f in db.overdue_instruments(lab.id, ["Lock-in"], late)] == [on_a.id]
    assert db.overdue_instruments(db.create_lab("Other").id, ["Lock-in"], late) == []
    assert db.blocks_overdue_scans(lab.id) is False
    db.update_lab(lab.id, block_overdue_scans=True)
    assert db.blocks_overdue_scans(lab.id) is True
