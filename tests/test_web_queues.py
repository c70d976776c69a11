"""The queue pages: list, detail with scans and log, and controls for members only."""

from __future__ import annotations

import pytest

from database_builders import iv_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from web_support import add_member, csrf_token, log_in, make_app


@pytest.fixture
def lab(db):
    return db.create_lab("Queue Lab")


@pytest.fixture
def app(db):
    app = make_app(db)
    yield app
    app.extensions["pybirch.station"].close()


@pytest.fixture
def queue(db, lab, app):
    settings, _ = iv_settings(points=11, scan_name="IV in a queue")
    queue = DatabaseQueue("bench", db, lab_id=lab.id, operator="carol")
    queue.enqueue(Scan(settings))
    return app.extensions["pybirch.station"].add_queue(queue)


def logged_in(app, db, lab, username: str, role: Role):
    add_member(db, lab.id, username, role)
    client = app.test_client()
    log_in(client, username)
    return client


def test_a_member_starts_a_queue_from_its_page_and_sees_it_finish(db, lab, app, queue):
    client = logged_in(app, db, lab, "mia", Role.MEMBER)
    listing = client.get(f"/queues/?lab={lab.id}").get_data(as_text=True)
    assert "bench" in listing

    page = client.get(f"/queues/{queue.db_queue_id}").get_data(as_text=True)
    assert "IV in a queue" in page
    assert ">Start<" in page

    token = csrf_token(client, f"/queues/{queue.db_queue_id}")
    response = client.post(f"/queues/{queue.db_queue_id}/start", data={"csrf_token": token})
    assert response.status_code == 302
    assert queue.wait_for_completion(timeout=60)
    page = client.get(f"/queues/{queue.db_queue_id}").get_data(as_text=True)
    assert "completed" in page
    assert "queued scan" in page  # the persisted log


def test_a_viewer_sees_the_queue_but_no_controls_and_cannot_post_them(db, lab, app, queue):
    client = logged_in(app, db, lab, "vic", Role.VIEWER)
    page = client.get(f"/queues/{queue.db_queue_id}").get_data(as_text=True)
    assert "IV in a queue" in page
    assert ">Start<" not in page
    token = csrf_token(client, f"/queues/{queue.db_queue_id}")
    response = client.post(f"/queues/{queue.db_queue_id}/start", data={"csrf_token": token})
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


def test_another_labs_queue_is_not_found(db, lab, app):
    client = logged_in(app, db, lab, "mia", Role.MEMBER)
    other = db.create_queue("hidden", lab_id=db.create_lab("Other").id)
    response = client.get(f"/queues/{other.id}")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert client.get("/queues/999999").status_code == 404
