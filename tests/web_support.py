"""Helpers for tests of the web app: an app on a fresh database, logged-in clients."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from pybirch.database import DatabaseService
from pybirch.database.models import Lab, Role
from pybirch.database_integration import DatabaseQueue
from pybirch.web import create_app
from pybirch.web.auth.passwords import hash_password
from pybirch.web.config import WebConfig

PASSWORD = "correct horse battery"
_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"'
)


def make_app(db: DatabaseService, attempts: int = 5) -> Flask:
    """An app on ``db`` with a fixed secret and ``attempts`` logins per window."""
    return create_app(db, WebConfig(secret_key="test-secret", login_attempts=attempts))


def add_member(db: DatabaseService, lab_id: int, username: str, role: Role) -> int:
    """A user who can log in with :data:`PASSWORD`, with ``role`` in the lab."""
    user = db.create_user(username, password_hash=hash_password(PASSWORD))
    db.set_membership(lab_id, user.id, role)
    return user.id


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page of ``path`` carries."""
    match = _TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD):
    """POST the login form as a browser does (with its CSRF token)."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def client_for(db: DatabaseService, lab: Lab, username: str, role: Role) -> FlaskClient:
    """A new member of ``lab`` with ``role``, logged in to a fresh app."""
    add_member(db, lab.id, username, role)
    client = make_app(db).test_client()
    log_in(client, username)
    return client


def post_form(client: FlaskClient, path: str, **data: object):
    """POST a form with the CSRF token, following the redirect to the page it lands on."""
    token = csrf_token(client, "/")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=True)


def station_queues(app: Flask, lab_id: int) -> list[DatabaseQueue]:
    """The queues the app's own station runs for a lab."""
    station = app.extensions["pybirch.station"]
    return [station.queue(summary.id) for summary in station.queues(lab_id)]
