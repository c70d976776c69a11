"""Every route refuses a caller without a login (and every lab-scoped one, other labs)."""

from __future__ import annotations

import re

import pytest

from pybirch.database.models import Role
from web_support import add_member, csrf_token, log_in, make_app

#: Routes anyone may reach: the login form, static files, the API's own description.
PUBLIC = {"auth.login", "static", "api.openapi"}


def concrete(rule: str, values: dict[str, str]) -> str:
    """A URL for ``rule`` with every ``<converter:name>`` filled from ``values``."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), rule)


@pytest.fixture
def world(db):
    mine, theirs = db.create_lab("Mine"), db.create_lab("Theirs")
    scan = db.create_scan("their scan", lab_id=theirs.id)
    queue = db.create_queue("their queue", lab_id=theirs.id)
    sample = db.create_sample("THEIRS-1", lab_id=theirs.id)
    computer, _ = db.create_computer(theirs.id, "Their PC")
    return mine, theirs, scan, queue, sample, computer


def test_every_route_needs_a_login(db, world):
    app = make_app(db)
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = concrete(rule.rule, {"scan_id": "abc", "action": "pause"})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code in (400, 401), (method, url, response.status_code)
            else:
                assert response.status_code in (302, 400), (method, url, response.status_code)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"], (method, url)
            checked += 1
    assert checked > 40


def test_every_lab_scoped_route_hides_another_labs_things(db, world):
    mine, theirs, scan, queue, sample, computer = world
    add_member(db, mine.id, "eve", Role.OWNER)  # powerful in her lab, nobody in theirs
    app = make_app(db)
    client = app.test_client()
    log_in(client, "eve")
    token = csrf_token(client, "/")
    values = {
        "lab_id": str(theirs.id),
        "scan_id": scan.scan_id,
        "queue_id": str(queue.id),
        "sample_pk": str(sample.id),
        "user_id": "1",
        "measurement_name": "anything",
        "export_format": "csv",
        "action": "pause",
        "token_id": "999999",
        "computer_id": str(computer.id),
    }
    own_only = {"account.revoke_token"}  # acts on the caller's own tokens only
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint in own_only or not rule.arguments:
            continue
        url = concrete(rule.rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            headers = {"X-CSRFToken": token} if method == "POST" else None
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked > 15
