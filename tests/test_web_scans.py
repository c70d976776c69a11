"""The scans list, a scan's page and its downloads, with lab access enforced."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from database_builders import iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.queue.samples import Sample
from pybirch.scan import Scan
from web_support import add_member, log_in, make_app


@pytest.fixture
def lab(db):
    return db.create_lab("Transport Lab")


@pytest.fixture
def client(db, lab):
    add_member(db, lab.id, "alice", Role.VIEWER)
    client = make_app(db).test_client()
    log_in(client, "alice")
    return client


@pytest.fixture
def measured(db, lab):
    """A finished I-V scan of 21 points in the lab, and what the multimeter returned."""
    settings, meter = iv_settings(points=21, scan_name="IV sweep")
    queue = DatabaseQueue("web", db, operator="carol", lab_id=lab.id)
    handle = queue.enqueue(Scan(settings, Sample("S-7", "MoS2")))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    queue.close()
    return db.get_scan(handle.scan_id), meter


def test_the_list_finds_scans_by_text_and_status_a_page_at_a_time(db, lab, client):
    for i in range(60):
        db.create_scan(f"map {i:02d}", lab_id=lab.id, project_name="Graphene", status="completed")
    db.create_scan("cooldown", lab_id=lab.id, project_name="Cryo", status="failed")

    first = client.get(f"/scans/?lab={lab.id}").get_data(as_text=True)
    assert "61" in first
    assert "page 1 of 2" in first
    assert "cooldown" in first  # newest first
    second = client.get(f"/scans/?lab={lab.id}&page=2").get_data(as_text=True)
    assert "map 00" in second

    failed = client.get(f"/scans/?lab={lab.id}&status=failed").get_data(as_text=True)
    assert "cooldown" in failed
    assert "map 01" not in failed
    found = client.get(f"/scans/?lab={lab.id}&q=map+5").get_data(as_text=True)
    assert "map 55" in found
    assert "map 44" not in found
    assert client.get(f"/scans/?lab={lab.id}&status=bogus").status_code == 400


def test_a_scan_page_shows_its_record_sample_instruments_and_log(measured, client):
    scan, _ = measured
    page = client.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    assert "IV sweep" in page
    assert "completed" in page
    assert "S-7" in page
    assert "MoS2" in page
    assert "Multimeter" in page
    assert "RecordingMultimeter" in page  # the driver class, from driver_versions
    assert "21 / 21 points" in page
    assert "started" in page  # a queue log line about the scan


def test_downloads_hold_exactly_the_stored_values(measured, client):
    scan, meter = measured
    base = f"/scans/{scan.scan_id}/download"
    expected = np.array([reading[0][0] for reading in meter.readings])

    response = client.get(f"{base}/csv?measurement=Multimeter")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    frame = pd.read_csv(io.StringIO(response.get_data(as_text=True)), comment="#")
    assert np.array_equal(frame["voltage (V)"].to_numpy(), expected)

    response = client.get(f"{base}/parquet?measurement=Multimeter")
    table = pq.read_table(io.BytesIO(response.data))
    assert np.array_equal(table.column("voltage (V)").to_numpy(), expected)

    response = client.get(f"{base}/hdf5")
    with h5py.File(io.BytesIO(response.data), "r") as exported:
        group = exported["Multimeter"]
        column = next(group[key] for key in group if group[key].attrs.get("label") == "voltage (V)")
        assert np.array_equal(column[()], expected)

    assert client.get(f"{base}/xlsx").status_code == 404
    assert client.get(f"{base}/csv?measurement=nothing").status_code == 404


def test_another_labs_scans_are_not_found(db, client):
    other = db.create_lab("Secret Lab")
    secret = db.create_scan("secret", lab_id=other.id, status="completed")
    unfiled = db.create_scan("no lab", status="completed")
    for scan in (secret, unfiled):
        assert client.get(f"/scans/{scan.scan_id}").status_code == 404
        assert client.get(f"/scans/{scan.scan_id}/download/csv").status_code == 404
    assert client.get("/scans/0123456789abcdef").status_code == 404
    assert "secret" not in client.get(f"/scans/?lab={other.id}").get_data(as_text=True)
