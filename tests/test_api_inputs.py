"""Inputs that once answered 500: ids beyond a column's range, NUL bytes, loose paging,
scans with nothing to download, measurement names with a slash."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pybirch.database import Layout
from pybirch.database.models import Role
from pybirch.database.models.scans import QUEUE_STATUSES, SCAN_STATUSES
from pybirch.database.storage import ChunkData
from web_support import add_member, csrf_token, log_in, make_app

#: Beyond PostgreSQL's integer, beyond SQLite's (and PostgreSQL's bigint), beyond both.
HUGE_IDS = (2**31, 2**63, 2**70)


@pytest.fixture
def lab(db):
    return db.create_lab("Input Lab")


@pytest.fixture
def owner(db, lab):
    """A logged-in owner of the lab (every route is open to them)."""
    add_member(db, lab.id, "olga", Role.OWNER)
    client = make_app(db).test_client()
    log_in(client, "olga")
    return client


def store_measurement(db, scan_id: int, name: str, values: np.ndarray):
    """A one-column measurement ``name`` holding ``values``, one row per point."""
    layout = Layout.build(["signal (V)"])
    measurement = db.create_measurement_object(scan_id, name, layout)
    times = np.arange(len(values), dtype=np.float64)
    db.write_rows(measurement.id, ChunkData(0, 0, [values, times], len(values), len(values)))
    return measurement


def test_ids_beyond_the_columns_range_answer_as_missing_ids_on_every_route(owner):
    token = csrf_token(owner, "/")

    def status(method: str, rule: str, key: int) -> int:
        path = re.sub(r"<[^>]+>", str(key), rule)
        form = {"data": {"csrf_token": token}, "headers": {"X-CSRFToken": token}}
        return owner.open(path, method=method, **form).status_code

    different = []
    for rule in owner.application.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            missing = status(method, rule.rule, 999_999)
            assert missing < 500, (method, rule.rule)
            different += [
                (method, rule.rule, huge, answer)
                for huge in HUGE_IDS
                # 404 or what the route answers for a missing id (a redirect for some forms)
                if (answer := status(method, rule.rule, huge)) not in (missing, 404)
            ]
    assert different == []


@pytest.mark.parametrize("path", ["/scans/", "/samples/", "/projects/", "/instruments/"])
def test_a_nul_byte_in_a_search_is_a_bad_request_on_pages(owner, lab, path):
    assert owner.get(path, query_string={"q": "a\x00b", "lab": lab.id}).status_code == 400


@pytest.mark.parametrize("listing", ["scans", "queues"])
def test_a_nul_byte_in_a_search_is_a_bad_request_in_the_api(owner, lab, listing):
    response = owner.get(f"/api/v1/labs/{lab.id}/{listing}", query_string={"q": "a\x00b"})
    assert response.status_code == 400
    assert "q" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "query",
    ["page=false", "page=0", "page=-1", "page=1.5", "per_page=-1.5", "per_page=0", "per_page=501"],
)
def test_paging_takes_positive_whole_numbers_only(owner, lab, query):
    for listing in ("scans", "queues"):
        response = owner.get(f"/api/v1/labs/{lab.id}/{listing}?{query}")
        assert response.status_code == 400, (listing, query)
        assert response.json["error"]["code"] == 400
    if query.startswith("page="):  # pages have a fixed page size
        assert owner.get(f"/scans/?lab={lab.id}&{query}").status_code == 400


def test_every_documented_status_is_accepted(owner, lab):
    document = owner.get("/api/v1/openapi.json").json
    for listing, statuses in (("scans", SCAN_STATUSES), ("queues", QUEUE_STATUSES)):
        path = document["paths"][f"/api/v1/labs/{{lab_id}}/{listing}"]["get"]
        (status,) = (p for p in path["parameters"] if p["name"] == "status")
        assert status["schema"]["enum"] == list(statuses)
        for value in statuses:
            response = owner.get(f"/api/v1/labs/{lab.id}/{listing}?status={value}")
            assert response.status_code == 200, (listing, value)


def test_downloading_a_scan_with_no_data_says_so(db, lab, owner):
    scan = db.create_scan("empty", lab_id=lab.id)
    response = owner.get(f"/scans/{scan.scan_id}/download/csv")
    assert response.status_code == 404
    assert "has no measurements to download" in response.get_data(as_text=True)


def test_a_measurement_named_with_a_slash_has_data_plots_and_links(db, lab, owner):
    scan = db.create_scan("slashes", lab_id=lab.id)
    store_measurement(db, scan.id, "a/b", np.arange(5.0))
    data = owner.get(f"/api/v1/scans/{scan.scan_id}/data/a%2Fb")
    assert data.status_code == 200
    assert data.json["columns"]["signal (V)"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert owner.get(f"/api/v1/scans/{scan.scan_id}/data/a/b").json["rows"] == 5
    plot = owner.get(f"/api/v1/scans/{scan.scan_id}/plot/a%2Fb")
    assert plot.status_code == 200
    assert plot.json["y"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    page = owner.get(f"/scans/{scan.scan_id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+/download/csv[^"]*)"', page).group(1).replace("&amp;", "&")
    download = owner.get(link)
    assert download.status_code == 200
    assert download.get_data(as_text=True).endswith("2.0,2.0,2\n3.0,3.0,3\n4.0,4.0,4\n")
