"""The scans list, a scan's page and its downloads, with lab access enforced."""

from __future__ import annotations

import html
import io
import re

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import make_url

from database_builders import iv_settings
from pybirch.database.errors import NotFoundError
from pybirch.database.models import Role
from pybirch.database.services.scans import MAX_TAGS
from pybirch.database_integration import DatabaseQueue
from pybirch.queue.samples import Sample
from pybirch.scan import Scan
from pybirch.scan.design import DesignError, ScanDesign
from pybirch.web.python_snippet import python_snippet
from pybirch.web.scan_designs import design_form_values, design_of_scan
from pybirch.web.scan_page import allowed_controls, driver_label
from web_support import add_member, client_for, csrf_token, log_in, make_app, post_form


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
    assert "21 / 21 points" in re.sub(r"<[^>]+>", "", page)  # the text a reader sees
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


# -- the scan page as a workplace: notes and tags, live numbers, Python code, re-run ----------


@pytest.fixture
def member(db, lab):
    return client_for(db, lab, "bob", Role.MEMBER)


def test_members_edit_notes_and_tags_and_the_list_finds_them(db, lab, measured, member, client):
    scan, _ = measured
    other = db.create_scan("cooldown", lab_id=lab.id, status="completed")
    page = member.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    assert 'id="notes-form"' in page  # a member may edit

    saved = member.put(
        f"/api/v1/scans/{scan.scan_id}/notes",
        json={
            "notes": "gate at -2 V\nsecond cooldown",
            "tags": ["Cooldown 3", " gate sweep ", "cooldown 3"],
        },
        headers={"X-CSRFToken": csrf_token(member, "/")},
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["tags"] == ["Cooldown 3", "gate sweep"]
    assert db.get_scan(scan.scan_id).notes == "gate at -2 V\nsecond cooldown"

    # The page's own form, without JavaScript: tags typed with commas.
    post_form(
        member, f"/scans/{other.scan_id}/notes", notes="warm-up drift", tags="drift, Cooldown 3"
    )
    assert db.get_scan(other.scan_id).tags == ["drift", "Cooldown 3"]

    listing = client.get(f"/scans/?lab={lab.id}").get_data(as_text=True)
    assert "gate sweep" in listing
    assert "warm-up drift" in listing
    found = client.get(f"/scans/?lab={lab.id}&q=second+cooldown").get_data(as_text=True)
    assert "IV sweep" in found
    assert ">cooldown<" not in found
    found = client.get(f"/scans/?lab={lab.id}&q=drift").get_data(as_text=True)
    assert ">cooldown<" in found
    assert "IV sweep" not in found
    tagged = client.get(f"/scans/?lab={lab.id}&tag=cooldown+3").get_data(as_text=True)
    assert "IV sweep" in tagged
    assert ">cooldown<" in tagged
    tagged = client.get(f"/scans/?lab={lab.id}&tag=gate+sweep").get_data(as_text=True)
    assert "IV sweep" in tagged
    assert ">cooldown<" not in tagged
    assert "No scan matches" in client.get(f"/scans/?lab={lab.id}&tag=gate").get_data(as_text=True)
    api = client.get(f"/api/v1/labs/{lab.id}/scans?q=gate").json["items"]
    assert [(s["scan_name"], s["tags"]) for s in api] == [
        ("IV sweep", ["Cooldown 3", "gate sweep"])
    ]


def test_viewers_read_notes_but_cannot_change_them_and_other_labs_are_hidden(
    db, lab, measured, client, member
):
    scan, _ = measured
    db.update_scan_notes(scan.scan_id, lab_id=lab.id, notes="keep the fridge cold", tags=["fridge"])
    page = client.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    assert "keep the fridge cold" in page
    assert "fridge" in page
    assert 'id="notes-form"' not in page
    assert "Re-run in builder" not in page
    assert 'data-action="abort"' not in page  # no controls for a viewer
    token = csrf_token(client, "/")
    response = client.put(
        f"/api/v1/scans/{scan.scan_id}/notes",
        json={"notes": "mine now"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403
    assert (
        client.post(
            f"/scans/{scan.scan_id}/notes", data={"notes": "x", "csrf_token": token}
        ).status_code
        == 403
    )
    assert db.get_scan(scan.scan_id).notes == "keep the fridge cold"

    secret = db.create_scan("secret", lab_id=db.create_lab("Secret Lab").id, status="completed")
    token = csrf_token(member, "/")
    response = member.put(
        f"/api/v1/scans/{secret.scan_id}/notes",
        json={"tags": ["mine"]},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 404
    assert member.get(f"/api/v1/scans/{secret.scan_id}/live").status_code == 404
    assert db.get_scan(secret.scan_id).tags == []
    with pytest.raises(NotFoundError):
        db.update_scan_notes(secret.scan_id, lab_id=lab.id, notes="through the service")


def test_notes_and_tags_over_the_limits_are_refused_with_the_reason(lab, measured, member):
    scan, _ = measured
    token = {"X-CSRFToken": csrf_token(member, "/")}
    url = f"/api/v1/scans/{scan.scan_id}/notes"
    too_many = member.put(url, json={"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, headers=token)
    assert too_many.status_code == 400
    assert "at most" in too_many.json["error"]["message"]
    assert member.put(url, json={"tags": "not a list"}, headers=token).status_code == 400
    assert member.put(url, json={"colour": "red"}, headers=token).status_code == 400
    nul = member.put(url, json={"tags": ["\u0000"]}, headers=token)  # PostgreSQL keeps no NUL
    assert nul.status_code == 400
    assert "control characters" in nul.json["error"]["message"]


def test_the_live_document_has_the_numbers_rows_and_log_lines_after_a_given_one(
    db, measured, client
):
    scan, _ = measured
    live = client.get(f"/api/v1/scans/{scan.scan_id}/live").json
    assert live["status"] == "completed"
    assert (live["points_done"], live["total_points"]) == (21, 21)
    assert live["measurements"] == [{"name": "Multimeter", "rows": 21}]
    assert live["controls"] == []
    assert live["controllable"] is False
    assert live["completed_at"] is not None
    assert live["started_at"] is not None
    first, *rest = live["logs"]
    assert rest, "a finished scan has several log lines"
    later = client.get(f"/api/v1/scans/{scan.scan_id}/live?after_log={first['id']}").json["logs"]
    assert [entry["id"] for entry in later] == [entry["id"] for entry in rest]
    assert client.get(f"/api/v1/scans/{scan.scan_id}/live?after_log=-1").status_code == 400


def test_the_page_enables_the_controls_a_scan_state_allows(db, lab, member):
    queue = db.create_queue("q", lab_id=lab.id)
    for status, _enabled in (("running", {"pause", "abort"}), ("paused", {"resume", "abort"})):
        record = db.create_scan(f"{status} scan", lab_id=lab.id, queue_id=queue.id, status=status)
        page = member.get(f"/scans/{record.scan_id}").get_data(as_text=True)
        assert '<dialog id="abort-dialog"' in page  # abort is confirmed in a dialog
        # Nobody runs the queue here: every button is disabled, and the page says why.
        assert "is not connected to this server" in page
        assert page.count("disabled>") >= 3
    assert allowed_controls("running") == ("pause", "abort")
    assert allowed_controls("paused") == ("resume", "abort")
    assert allowed_controls("queued") == ("abort",)
    assert allowed_controls("completed") == allowed_controls("aborted") == ()


def test_the_python_code_on_the_page_reads_the_scan(
    db, database_url, measured, client, monkeypatch
):
    scan, meter = measured
    page = client.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    code = html.unescape(page.split('id="python-snippet">', 1)[1].split("</pre>", 1)[0])
    url = make_url(database_url)
    if url.password:  # never shown: the reader's own credentials complete the URL
        assert url.password not in page
        monkeypatch.setenv("PGPASSWORD", url.password)
    namespace: dict = {}
    exec(compile(code, "<scan page>", "exec"), namespace)
    try:
        frame, grid = namespace["multimeter_frame"], namespace["multimeter_grid"]
        expected = np.array([reading[0][0] for reading in meter.readings])
        assert np.array_equal(frame["voltage (V)"].to_numpy(), expected)
        assert grid["voltage (V)"].shape == (21,)
        assert namespace["scan"].scan_id == scan.scan_id
    finally:
        namespace["db"].close()


def test_the_python_code_never_shows_a_password():
    code = python_snippet(
        "postgresql+psycopg://lab:s3cret@db.example/pybirch?sslpassword=x&sslmode=require",
        "ab12",
        [],
    )
    assert "s3cret" not in code
    assert "sslpassword" not in code
    assert "postgresql+psycopg://lab@db.example/pybirch?sslmode=require" in code
    assert "PGPASSWORD" in code


def test_a_scan_built_in_the_builder_reads_back_as_its_design(db, lab, measured, member):
    scan, _ = measured
    design = design_of_scan(db, scan.scan_id, lab.id)
    assert design["axes"] == [
        {"instrument": "Current Source", "start": -1e-3, "stop": 1e-3, "points": 21, "snake": False}
    ]
    assert design["measurements"] == ["Multimeter"]
    assert design["scan_name"] == "IV sweep"
    assert ScanDesign.from_dict(design).scan_type == "1D Scan"
    values = design_form_values(design)
    assert values["axis1_points"] == "21"
    assert values["measure"] == ["Multimeter"]
    assert float(values["axis1_start"]) == -1e-3
    page = member.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    assert f"/builder/?lab={lab.id}&amp;from_scan={scan.scan_id}" in page
    with pytest.raises(NotFoundError):
        design_of_scan(db, scan.scan_id, db.create_lab("Elsewhere").id)


def test_a_tree_the_builder_cannot_make_says_why(db, lab):
    settings, _ = iv_settings(points=5)
    record = db.create_scan("odd", lab_id=lab.id)
    tree = settings.scan_tree.to_dict()
    tree["items"][0]["positions"] = [0.0, 1e-4, 5e-4]  # not evenly spaced
    db.update_scan(record.id, scan_tree_data=tree)
    with pytest.raises(DesignError, match="not evenly spaced"):
        design_of_scan(db, record.scan_id, lab.id)


def test_a_stored_driver_is_named_with_its_version(db, lab, client):
    record = db.create_scan("stored driver", lab_id=lab.id, status="completed")
    db.update_scan(
        record.id,
        instrument_settings={"Lock-in": {"class": "x.SR830", "settings": {}}},
        driver_versions={
            "Lock-in": {
                "kind": "definition",
                "class": "pybirch_definition_7.SR830",
                "name": "SR830",
                "version": 3,
                "code_hash": "0123456789abcdef0123",
            }
        },
    )
    page = client.get(f"/scans/{record.scan_id}").get_data(as_text=True)
    assert "stored SR830 v3" in page
    assert "code 0123456789ab" in page
    assert driver_label({"kind": "installed", "class": "pybirch.x.Meter", "version": "1.2"}) == (
        "Meter",
        "version 1.2",
    )
