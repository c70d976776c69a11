"""Who may use every route and socket event: the table the access matrix checks, and its world.

Each route's entry names the least a caller needs (public, any logged-in user, or a role
in the lab) and whose lab counts: the lab of the thing the URL names (a non-member gets
404, as for an id that does not exist) or the caller's own labs (``?lab=`` picks among
them). The expected outcome of every principal follows from that entry; nothing here is a
hand-written status code per cell.

The principals act on one lab, *the target*: its viewer, member, admin and owner; an
outsider (owner of another lab); a user removed from the target after logging in; a
revoked personal token (its user was the target's owner); an agent's computer token; and
nobody at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from werkzeug.test import TestResponse

from database_builders import iv_settings, pybirch_sample, rgb_image
from definition_examples import SEED_LOCKIN
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.definitions import DefinitionLibrary
from pybirch.realtime.agent_protocol import AGENT_NAMESPACE
from pybirch.realtime.events import ScanStatus
from pybirch.scan import Scan
from pybirch.web import create_app
from pybirch.web.config import WebConfig
from pybirch.web.sockets import BUS_KEY, CONNECTIONS_KEY, socketio
from web_support import add_member, csrf_token, log_in

BROWSER_NAMESPACE = "/"

# -- what a caller needs ------------------------------------------------------------------


class Least(Enum):
    """The least a caller needs: nobody, a login, a role in a lab, or a lab computer's token."""

    PUBLIC = "anyone"
    USER = "any logged-in user"
    VIEWER = Role.VIEWER.value
    MEMBER = Role.MEMBER.value
    ADMIN = Role.ADMIN.value
    OWNER = Role.OWNER.value
    COMPUTER = "the lab's computer token"

    @property
    def role(self) -> Role | None:
        """The lab role this level stands for, if it is one."""
        return Role(self.value) if self.value in {r.value for r in Role} else None


class Scope(Enum):
    """Whose lab the role is checked in."""

    #: The lab of the thing the URL names: a non-member gets 404.
    NAMED = "the named thing's lab"
    #: The caller's own labs (``?lab=`` picks among them): a non-member sees their own.
    OWN = "the caller's own labs"


class Outcome(Enum):
    """What happened to a request or a socket event, as far as access goes."""

    PASSED = "passed the access check"
    LOGIN = "asked to log in (401, or a redirect to /login)"
    FORBIDDEN = "403: role too low"
    HIDDEN = "404: not their lab"
    REFUSED = "refused (connection refused, or acked with an error and no events)"


@dataclass(frozen=True)
class Principal:
    """Someone calling: a logged-in user or not, and their role in the target lab then."""

    name: str
    role: Role | None = None
    logged_in: bool = False


PRINCIPALS = (
    Principal("anonymous"),
    Principal("outsider", logged_in=True),  # owns another lab
    Principal("viewer", Role.VIEWER, logged_in=True),
    Principal("member", Role.MEMBER, logged_in=True),
    Principal("admin", Role.ADMIN, logged_in=True),
    Principal("owner", Role.OWNER, logged_in=True),
    Principal("removed", logged_in=True),  # a member removed from the lab after logging in
    Principal("revoked"),  # the owner's personal token, revoked
    Principal("computer"),  # the target lab's computer token
)
BY_NAME = {principal.name: principal for principal in PRINCIPALS}


@dataclass(frozen=True)
class Access:
    """One route's (or socket event's) rule, with what a request to it carries.

    ``values`` and ``form`` make the URL values and form fields of one request; they may
    create disposable records (a member to remove, a token to revoke) so that a request
    that succeeds changes nothing another cell relies on.
    """

    least: Least
    scope: Scope = Scope.NAMED
    #: What the request does, when a route is checked for several cases.
    case: str = ""
    values: Callable[[World, Principal], dict[str, str]] | None = None
    form: Callable[[World, Principal], dict[str, str]] | None = None
    #: The request ends the caller's session (logout): it is sent from a new login.
    fresh_session: bool = False

    def describe(self) -> str:
        """The rule in words, for failure messages."""
        where = f" in {self.scope.value}" if self.least.role else ""
        return f"{self.least.value}{where}" + (f" ({self.case})" if self.case else "")

    def expected(self, principal: Principal) -> Outcome:
        """The outcome for ``principal`` that this rule demands."""
        if self.least is Least.PUBLIC:
            return Outcome.PASSED
        if self.least is Least.COMPUTER:
            return Outcome.PASSED if principal.name == "computer" else Outcome.REFUSED
        if not principal.logged_in:
            return Outcome.LOGIN
        needed = self.least.role
        if needed is None:
            return Outcome.PASSED
        if principal.role is None:
            return Outcome.HIDDEN if self.scope is Scope.NAMED else Outcome.PASSED
        return Outcome.PASSED if principal.role.allows(needed) else Outcome.FORBIDDEN


# -- per-request records --------------------------------------------------------------------


def _disposable_member(role: Role) -> Callable[[World, Principal], dict[str, str]]:
    def values(world: World, _principal: Principal) -> dict[str, str]:
        return {"user_id": str(world.new_member(role)[0])}

    return values


def _own_token(world: World, principal: Principal) -> dict[str, str]:
    """A token of the caller's own (the owner's, for callers who are no user)."""
    user = world.users.get(principal.name, world.users["owner"])
    record, _ = world.db.create_api_token(user, "to revoke")
    return {"token_id": str(record.id)}


def _disposable_computer(world: World, _principal: Principal) -> dict[str, str]:
    computer, _ = world.db.create_computer(world.target, f"PC {next(world.serial)}")
    return {"computer_id": str(computer.id)}


def _bound_instrument(world: World, _principal: Principal) -> dict[str, str]:
    computer, _ = world.db.create_computer(world.target, f"PC {next(world.serial)}")
    record = world.db.register_instrument_on_computer(
        {"name": f"Meter {next(world.serial)}", "instrument_type": "measurement"},
        world.target,
        computer.id,
    )
    return {"computer_id": str(computer.id), "instrument_id": str(record.id)}


def _cared_instrument(world: World, _principal: Principal) -> dict[str, str]:
    """An instrument of the target lab with a calibration and its certificate."""
    record = world.db.create_instrument(
        f"Meter {next(world.serial)}", "measurement", lab_id=world.target
    )
    calibration = world.db.record_calibration(
        record.id,
        lab_id=world.target,
        calibrated_on=date(2026, 1, 5),
        due_on=date(2027, 1, 5),
        certificate=b"%PDF-1.4 certificate",
        certificate_name="certificate.pdf",
    )
    return {"instrument_id": str(record.id), "calibration_id": str(calibration.id)}


def _calibration_form(_world: World, _principal: Principal) -> dict[str, str]:
    return {"calibrated_on": "2026-11-02", "due_on": "2027-11-02"}


def _maintenance_form(_world: World, principal: Principal) -> dict[str, str]:
    return {"performed_on": "2026-11-02", "performed_by": principal.name, "description": "dusted"}


def _disposable_template(world: World, _principal: Principal) -> dict[str, str]:
    template = world.db.create_scan_template(world.target, f"Template {next(world.serial)}", {})
    return {"template_id": str(template.id)}


def _computer_details(world: World, _principal: Principal) -> dict[str, str]:
    return {"nickname": f"Spare {next(world.serial)}", "location": "Store room"}


def _demote_an_owner(world: World, _principal: Principal) -> dict[str, str]:
    _, username = world.new_member(Role.OWNER)
    return {"username": username, "role": Role.MEMBER.value}


def _make_an_owner(world: World, _principal: Principal) -> dict[str, str]:
    return {"username": f"newcomer{next(world.serial)}", "role": Role.OWNER.value}


def _role_member(_world: World, _principal: Principal) -> dict[str, str]:
    return {"role": Role.MEMBER.value}


def _gateway_method(name: str) -> Callable[[World, Principal], dict[str, str]]:
    """The agent gateway's method ``name`` (its arguments are the world's computer's)."""

    def values(_world: World, _principal: Principal) -> dict[str, str]:
        return {"method": name}

    return values


#: Every endpoint of the app, with the cases it is checked for. A route without an entry
#: fails the matrix: say here who may use it.
ROUTES: dict[str, tuple[Access, ...]] = {
    # public: the way in, and the API's description
    "auth.login": (Access(Least.PUBLIC),),
    "static": (Access(Least.PUBLIC),),
    "api.openapi": (Access(Least.PUBLIC),),
    # any logged-in user: their own account, and lists of their own labs
    "auth.logout": (Access(Least.USER, fresh_session=True),),
    "account.index": (Access(Least.USER),),
    "account.change_password": (Access(Least.USER),),
    "account.first_password": (Access(Least.USER),),
    "account.create_token": (Access(Least.USER),),
    "account.revoke_token": (Access(Least.USER, values=_own_token),),
    "labs.index": (Access(Least.USER),),
    "labs.create": (Access(Least.USER),),
    "api.labs": (Access(Least.USER),),
    "api.instruments_status": (Access(Least.USER),),
    "api.instruments_due": (Access(Least.USER),),
    "dashboard.index": (Access(Least.VIEWER, Scope.OWN),),
    "scans.index": (Access(Least.VIEWER, Scope.OWN),),
    "queues.index": (Access(Least.VIEWER, Scope.OWN),),
    "samples.samples": (Access(Least.VIEWER, Scope.OWN),),
    "samples.projects": (Access(Least.VIEWER, Scope.OWN),),
    "instruments.index": (Access(Least.VIEWER, Scope.OWN),),
    "computers.index": (Access(Least.VIEWER, Scope.OWN),),
    "builder.form": (Access(Least.MEMBER, Scope.OWN),),
    "definitions.index": (Access(Least.VIEWER, Scope.OWN),),
    "api.definitions": (Access(Least.VIEWER, Scope.OWN),),
    "definition_edit.new": (Access(Least.MEMBER, Scope.OWN),),
    "approvals.index": (Access(Least.ADMIN, Scope.OWN),),
    # checking unsaved code touches no lab (it is parsed and compiled, never run)
    "api.validate_code": (Access(Least.USER),),
    "computer_instruments.index": (Access(Least.VIEWER, values=_disposable_computer),),
    "instrument_page.detail": (Access(Least.VIEWER, values=_bound_instrument),),
    "api.instrument": (Access(Least.VIEWER, values=_bound_instrument),),
    # a lab's things: viewers read them
    "api.lab_scans": (Access(Least.VIEWER),),
    "api.lab_queues": (Access(Least.VIEWER),),
    "api.queue": (Access(Least.VIEWER),),
    "api.scan": (Access(Least.VIEWER),),
    "api.scan_data": (Access(Least.VIEWER),),
    "api.scan_plot": (Access(Least.VIEWER),),
    "api.scan_live": (Access(Least.VIEWER),),
    "api.scan_overlays": (Access(Least.VIEWER),),
    "scans.detail": (Access(Least.VIEWER),),
    "scans.download": (Access(Least.VIEWER),),
    "queues.detail": (Access(Least.VIEWER),),
    "samples.sample": (Access(Least.VIEWER),),
    "builder.templates": (Access(Least.VIEWER),),
    "samples.sample_image": (Access(Least.VIEWER),),
    "admin.members": (Access(Least.VIEWER),),
    "equipment_care.page": (Access(Least.VIEWER, values=_cared_instrument),),
    "equipment_care.certificate": (Access(Least.VIEWER, values=_cared_instrument),),
    "api.instrument_calibrations": (Access(Least.VIEWER, values=_cared_instrument),),
    # a lab's stored drivers: viewers read them (another lab's private one is a 404)
    "api.definition": (Access(Least.VIEWER),),
    "api.validate_definition": (Access(Least.VIEWER),),
    "api.definition_versions": (Access(Least.VIEWER),),
    "api.definition_version": (Access(Least.VIEWER),),
    "api.definition_diff": (Access(Least.VIEWER),),
    "api.definition_audit": (Access(Least.VIEWER),),
    "definitions.detail": (Access(Least.VIEWER),),
    "definitions.diff": (Access(Least.VIEWER),),
    # members measure: build, control, describe samples
    "builder.build": (Access(Least.MEMBER),),
    "builder.save_template": (Access(Least.MEMBER),),
    "builder.delete_template": (Access(Least.MEMBER, values=_disposable_template),),
    "computer_instruments.find": (Access(Least.MEMBER, values=_disposable_computer),),
    # an instrument's manual control (its computer is offline here: refused with 409, or
    # 400 for a move without a position; either way past the access check)
    "instrument_page.move_to": (Access(Least.MEMBER, values=_bound_instrument),),
    "instrument_page.measure_once": (Access(Least.MEMBER, values=_bound_instrument),),
    "instrument_page.apply_last": (Access(Least.MEMBER, values=_bound_instrument),),
    "instrument_page.apply_form": (Access(Least.MEMBER, values=_bound_instrument),),
    "api.move_instrument": (Access(Least.MEMBER, values=_bound_instrument),),
    "api.measure_instrument": (Access(Least.MEMBER, values=_bound_instrument),),
    "api.apply_instrument_settings": (Access(Least.MEMBER, values=_bound_instrument),),
    "api.control_queue": (Access(Least.MEMBER),),
    "api.control_scan": (Access(Least.MEMBER),),
    "api.scan_notes": (Access(Least.MEMBER),),
    "scans.save_notes": (Access(Least.MEMBER),),
    "queues.control": (Access(Least.MEMBER),),
    "queues.control_scan": (Access(Least.MEMBER),),
    "samples.create_project": (Access(Least.MEMBER),),
    "samples.create_sample": (Access(Least.MEMBER),),
    "samples.edit_sample": (Access(Least.MEMBER),),
    "api.create_definition": (Access(Least.MEMBER),),
    "api.update_definition": (Access(Least.MEMBER),),
    "api.rollback_definition": (Access(Least.MEMBER),),
    "definition_edit.create": (Access(Least.MEMBER),),
    "definition_edit.edit": (Access(Least.MEMBER),),
    "definition_edit.update": (Access(Least.MEMBER),),
    "definition_edit.rollback": (Access(Least.MEMBER),),
    "definitions.save_settings": (Access(Least.MEMBER),),
    # members keep the equipment's calibrations and maintenance log (viewers read them)
    "equipment_care.record_calibration": (
        Access(Least.MEMBER, values=_cared_instrument, form=_calibration_form),
    ),
    "equipment_care.add_maintenance": (
        Access(Least.MEMBER, values=_cared_instrument, form=_maintenance_form),
    ),
    "equipment_care.set_schedule": (Access(Least.MEMBER, values=_cared_instrument),),
    "api.record_instrument_calibration": (
        Access(Least.MEMBER, values=_cared_instrument, form=_calibration_form),
    ),
    # admins run the lab; only owners touch owners
    "labs.edit": (Access(Least.ADMIN),),
    "computers.create": (Access(Least.ADMIN),),
    # a version's review: admins who did not write it (the world's versions are a member's)
    "api.approve_version": (Access(Least.ADMIN),),
    "api.reject_version": (Access(Least.ADMIN),),
    "approvals.review": (Access(Least.ADMIN),),
    "computer_instruments.bind": (Access(Least.ADMIN, values=_disposable_computer),),
    "computer_instruments.choose_driver": (Access(Least.ADMIN, values=_bound_instrument),),
    "computers.reset_token": (Access(Least.ADMIN, values=_disposable_computer),),
    "computers.remove": (Access(Least.ADMIN, values=_disposable_computer),),
    "computers.edit": (Access(Least.ADMIN, values=_disposable_computer, form=_computer_details),),
    "admin.add_member": (
        Access(Least.ADMIN, case="a member"),
        Access(Least.OWNER, case="makes an owner", form=_make_an_owner),
        Access(Least.OWNER, case="demotes an owner", form=_demote_an_owner),
    ),
    "admin.change_role": (
        Access(
            Least.ADMIN, case="a viewer", values=_disposable_member(Role.VIEWER), form=_role_member
        ),
        Access(
            Least.OWNER, case="an owner", values=_disposable_member(Role.OWNER), form=_role_member
        ),
    ),
    "admin.remove_member": (
        Access(Least.ADMIN, case="a member", values=_disposable_member(Role.MEMBER)),
        Access(Least.OWNER, case="an owner", values=_disposable_member(Role.OWNER)),
    ),
    # a lab computer's agent without database credentials: its station's records only
    # (tests/test_agent_gateway_access.py tries every method with others' records)
    "agent_gateway.call": (
        Access(
            Least.COMPUTER, case="database identity", values=_gateway_method("database_identity")
        ),
        Access(Least.COMPUTER, case="its queues", values=_gateway_method("search_queues")),
    ),
}

#: Every socket event handled by the server, by namespace. An event without an entry
#: fails the matrix.
SOCKET_EVENTS: dict[tuple[str, str], Access] = {
    (BROWSER_NAMESPACE, "connect"): Access(Least.USER),
    (BROWSER_NAMESPACE, "join"): Access(Least.VIEWER),
    (BROWSER_NAMESPACE, "catch_up"): Access(Least.VIEWER),
    (BROWSER_NAMESPACE, "disconnect"): Access(Least.USER),
    (AGENT_NAMESPACE, "connect"): Access(Least.COMPUTER),
    (AGENT_NAMESPACE, "register"): Access(Least.COMPUTER),
    (AGENT_NAMESPACE, "event"): Access(Least.COMPUTER),
    (AGENT_NAMESPACE, "disconnect"): Access(Least.COMPUTER),
}


def socket_outcome(expected: Outcome) -> Outcome:
    """Sockets only pass or refuse: a refusal for any reason is a refusal."""
    return Outcome.PASSED if expected is Outcome.PASSED else Outcome.REFUSED


def route_outcome(expected: Outcome) -> Outcome:
    """A route only a computer token passes answers everyone else as unauthenticated (401)."""
    return Outcome.LOGIN if expected is Outcome.REFUSED else expected


# -- the app's routes and events, enumerated ------------------------------------------------


@dataclass(frozen=True, order=True)
class Route:
    """One URL rule and one of its methods."""

    rule: str
    endpoint: str
    method: str


def app_routes(app: Flask) -> list[Route]:
    """Every rule of the app and every method it answers (but HEAD and OPTIONS)."""
    return sorted(
        Route(rule.rule, rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    )


def socket_events() -> list[tuple[str, str]]:
    """Every (namespace, event) the server has a handler for."""
    if socketio.namespace_handlers:
        raise AssertionError("class-based Socket.IO namespaces are not in the matrix yet")
    return sorted(
        {(namespace or BROWSER_NAMESPACE, event) for event, _, namespace in socketio.handlers}
    )


@contextmanager
def throwaway_app() -> Iterator[Flask]:
    """An app on an in-memory database, only to read its URL map."""
    db = DatabaseService("sqlite://", auto_upgrade=True)
    try:
        yield create_app(db, WebConfig(secret_key="url map only"))
    finally:
        db.close()


def route_cells(routes: list[Route]) -> list[Any]:
    """One pytest parameter per route, method, case and principal."""
    cells = []
    for route in routes:
        for access in ROUTES.get(route.endpoint, (None,)):
            for principal in PRINCIPALS:
                case = f"[{access.case}]" if access and access.case else ""
                cell_id = f"{route.method} {route.rule}{case} {principal.name}"
                cells.append(pytest.param(route, access, principal, id=cell_id))
    return cells


def socket_cells(events: list[tuple[str, str]]) -> list[Any]:
    """One pytest parameter per socket event and principal."""
    cells = []
    for namespace, event in events:
        for principal in PRINCIPALS:
            cells.append(
                pytest.param(
                    namespace,
                    event,
                    principal,
                    id=f"{namespace} {event} {principal.name}",
                )
            )
    return cells


# -- the world the principals act in --------------------------------------------------------


@dataclass
class World:
    """A target lab with a measured scan, its queue, a sample, a computer, and the principals."""

    db: DatabaseService
    app: Flask
    target: int
    target_name: str
    scan_id: str
    queue_id: int
    sample_pk: int
    measurement: str
    computer_id: int
    computer_token: str
    revoked_token: str
    definition_id: int
    users: dict[str, int] = field(default_factory=dict)
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=lambda: count(1))

    def url_values(self) -> dict[str, str]:
        """What fills a rule's ``<...>`` parts: the target lab's things."""
        return {
            "lab_id": str(self.target),
            "scan_id": self.scan_id,
            "queue_id": str(self.queue_id),
            "sample_pk": str(self.sample_pk),
            "computer_id": "0",  # replaced per request where a route acts on one
            "measurement_name": self.measurement,
            "export_format": "csv",
            "action": "abort",  # refused with 409 (nobody runs the queue): nothing changes
            "filename": "pybirch.css",
            "definition_id": str(self.definition_id),
            "version": "2",  # a member's edit, pending review
        }

    def new_member(self, role: Role) -> tuple[int, str]:
        """A disposable member of the target lab (who never logs in): (id, user name)."""
        username = f"disposable{next(self.serial)}"
        user = self.db.create_user(username, password_hash="never used")
        self.db.set_membership(self.target, user.id, role)
        return user.id, username

    def session(self, principal: Principal, fresh: bool = False) -> tuple[FlaskClient, str]:
        """The principal's browser (or API client) and its CSRF token; a new one if ``fresh``."""
        if fresh:
            return self.open(principal)
        return self.clients[principal.name], self.csrf[principal.name]

    def open(self, principal: Principal) -> tuple[FlaskClient, str]:
        """A new browser of the principal: logged in, or carrying its bearer token, or neither."""
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{next(self.serial) % 250 + 1}"
        if principal.logged_in:
            response = log_in(client, principal.name)
            assert response.status_code == 302, f"{principal.name} could not log in"
            return client, csrf_token(client, "/")
        token = csrf_token(client, "/login")  # of an anonymous session, as a browser has one
        bearer = self.bearer(principal)
        if bearer:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
        return client, token

    def bearer(self, principal: Principal) -> str | None:
        """The token the principal sends instead of logging in, if any."""
        return {"revoked": self.revoked_token, "computer": self.computer_token}.get(principal.name)

    def remove(self, user_id: int) -> None:
        """Take a member out of the target lab as its owner does, on the members page."""
        owner, csrf = self.clients["owner"], self.csrf["owner"]
        response = owner.post(
            f"/labs/{self.target}/members/{user_id}/remove", data={"csrf_token": csrf}
        )
        assert response.status_code == 302
        assert self.db.get_role(self.target, user_id) is None

    def socket_of_a_removed_member(self) -> SocketIOTestClient:
        """A new member's live connection, joined to the target's rooms; then they are removed."""
        username = f"leaver{next(self.serial)}"
        user_id = add_member(self.db, self.target, username, Role.MEMBER)
        browser = self.app.test_client()
        log_in(browser, username)
        socket = socketio.test_client(self.app, flask_test_client=browser)
        for room in _rooms(self):
            assert socket.emit("join", room, callback=True)["ok"]
        self.remove(user_id)
        if socket.is_connected():  # closing it at the removal is a fine answer too
            socket.get_received()
        return socket

    def browser_socket(self, principal: Principal) -> SocketIOTestClient:
        """A live connection of the principal's browser to the ``/`` namespace."""
        bearer = self.bearer(principal)
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        auth = {"token": bearer} if bearer else None  # as an agent would present it
        return socketio.test_client(
            self.app, flask_test_client=self.clients[principal.name], headers=headers, auth=auth
        )

    def agent_socket(self, principal: Principal) -> SocketIOTestClient:
        """A connection to ``/agent`` with what the principal has: a token, or a cookie."""
        token = self.bearer(principal)
        if principal.logged_in:
            _, token = self.db.create_api_token(self.users[principal.name], "not an agent")
        return socketio.test_client(
            self.app,
            namespace=AGENT_NAMESPACE,
            flask_test_client=self.clients[principal.name],
            auth=None if token is None else {"token": token},
        )

    def publish_scan_status(self, status: str = "running") -> None:
        """A live event of the target's scan: it goes to the scan's, queue's and lab's rooms."""
        event = ScanStatus(self.scan_id, status, 0.5, self.target, self.queue_id)
        self.app.extensions[BUS_KEY].publish(event)


def build_world(directory: Path) -> World:
    """The target lab and everyone acting on it, on a SQLite file in ``directory``."""
    db = DatabaseService(f"sqlite:///{directory / 'access.db'}", auto_upgrade=True)
    target = db.create_lab("Target lab 7f3a")
    elsewhere = db.create_lab("Elsewhere lab")
    users = {
        name: add_member(db, target.id, name, Role(name))
        for name in ("viewer", "member", "admin", "owner")
    }
    users["outsider"] = add_member(db, elsewhere.id, "outsider", Role.OWNER)
    users["removed"] = add_member(db, target.id, "removed", Role.MEMBER)

    settings, _ = iv_settings(points=5, scan_name="Target scan 7f3a")
    queue = DatabaseQueue("target queue", db, operator="owner", lab_id=target.id)
    handle = queue.enqueue(Scan(settings, pybirch_sample("TARGET-7f3a", image=rgb_image())))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    queue.close()
    scan = db.get_scan(handle.scan_id)
    (measurement,) = db.get_measurement_objects(scan.id)
    computer, computer_token = db.create_computer(target.id, "Target PC")
    _, revoked_token = db.create_api_token(users["owner"], "captured")
    definition = _a_members_definition(db, target.id, users["member"])

    app = create_app(db, WebConfig(secret_key="access matrix", login_attempts=1000))
    world = World(
        db=db,
        app=app,
        target=target.id,
        target_name=target.name,
        scan_id=scan.scan_id,
        queue_id=scan.queue_id,
        sample_pk=scan.sample_id,
        measurement=measurement.name,
        computer_id=computer.id,
        computer_token=computer_token,
        revoked_token=revoked_token,
        definition_id=definition,
        users=users,
    )
    for principal in PRINCIPALS:
        world.clients[principal.name], world.csrf[principal.name] = world.open(principal)
    _revoke_and_remove(world)
    return world


def _a_members_definition(db: DatabaseService, lab_id: int, member_id: int) -> int:
    """The seed's lock-in driver, private to the lab, with a second version pending review."""
    fields = {k: v for k, v in SEED_LOCKIN.items() if k not in ("name", "instrument_type")}
    code = fields.pop("source_code")
    definition = DefinitionLibrary(db).create(
        lab_id, "TargetLockIn", "measurement", code, author_id=member_id, **fields
    )
    DefinitionLibrary(db).update(
        definition.id,
        lab_id=lab_id,
        author_id=member_id,
        source_code=code.replace("0.1", "0.3"),
        change_summary="a slower time constant",
    )
    return definition.id


def _revoke_and_remove(world: World) -> None:
    """Make the revoked and removed principals what they are, as their owner would."""
    owner = world.clients["owner"]
    csrf = {"X-CSRFToken": world.csrf["owner"]}
    revoked = world.clients["revoked"]
    assert revoked.get("/api/v1/labs").status_code == 200  # the token worked before
    (token,) = [t for t in world.db.list_api_tokens(world.users["owner"]) if t.name == "captured"]
    response = owner.post(
        f"/account/tokens/{token.id}/revoke", data={"csrf_token": world.csrf["owner"]}, headers=csrf
    )
    assert response.status_code == 302

    removed = world.clients["removed"]
    assert removed.get(f"/api/v1/labs/{world.target}/scans").status_code == 200  # a member before
    world.remove(world.users["removed"])


# -- asking and classifying -----------------------------------------------------------------


def concrete(rule: str, values: dict[str, str]) -> str:
    """A URL for ``rule`` with every ``<converter:name>`` filled from ``values``."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule)


def send(world: World, route: Route, access: Access, principal: Principal) -> TestResponse:
    """One request of ``principal`` to ``route``, as its browser or API client sends it."""
    values = {**world.url_values(), **(access.values(world, principal) if access.values else {})}
    url = f"{concrete(route.rule, values)}?lab={world.target}"
    client, token = world.session(principal, fresh=access.fresh_session)
    form = {"csrf_token": token, **(access.form(world, principal) if access.form else {})}
    if route.method == "GET":
        response = client.get(url)
    else:
        response = client.open(url, method=route.method, data=form, headers={"X-CSRFToken": token})
    if access.fresh_session:  # it ended every session of the user: the shared one too
        world.clients[principal.name], world.csrf[principal.name] = world.open(principal)
    return response


def classify(response: TestResponse) -> Outcome:
    """The access outcome of a response (a server error is never an outcome)."""
    status = response.status_code
    assert status < 500, f"server error {status}: {response.get_data(as_text=True)[:500]}"
    if status == 401:
        return Outcome.LOGIN
    target = urlsplit(response.headers.get("Location", ""))
    if 300 <= status < 400 and target.path == "/login" and "next=" in target.query:
        return Outcome.LOGIN  # sent to log in, to come back here (logging out goes there too)
    return {403: Outcome.FORBIDDEN, 404: Outcome.HIDDEN}.get(status, Outcome.PASSED)


# -- socket probes: did the principal get through? ------------------------------------------

#: What an agent says about itself when it registers.
REGISTRATION = {"computer": {"hostname": "target-pc"}, "instruments": [], "queues": []}


def _rooms(world: World) -> list[dict[str, Any]]:
    return [
        {"room": "scan", "id": world.scan_id},
        {"room": "queue", "id": world.queue_id},
        {"room": "lab", "id": world.target},
    ]


@contextmanager
def _connected(socket: SocketIOTestClient, namespace: str, keep: bool = False) -> Iterator[bool]:
    """Whether ``socket`` is connected; it is disconnected afterwards unless ``keep``."""
    try:
        yield socket.is_connected(namespace)
    finally:
        if not keep and socket.is_connected(namespace):
            socket.disconnect(namespace=namespace)


def _browser_connects(world: World, principal: Principal) -> bool:
    with _connected(world.browser_socket(principal), BROWSER_NAMESPACE) as connected:
        return connected


def _browser_joins(world: World, principal: Principal) -> bool:
    """Joins every room of the target's scan and hears its events; or neither.

    The removed member's connection is one that joined while they were still a member.
    """
    if principal.name == "removed":
        socket = world.socket_of_a_removed_member()
    else:
        socket = world.browser_socket(principal)
    with _connected(socket, BROWSER_NAMESPACE) as connected:
        if not connected:
            return False
        replies = [socket.emit("join", room, callback=True) for room in _rooms(world)]
        socket.get_received()
        world.publish_scan_status()
        heard = [message["name"] for message in socket.get_received()]
        joined = [isinstance(reply, dict) and reply.get("ok") is True for reply in replies]
        if all(joined) and heard:
            return True
        if not any(joined) and not heard:
            return False
        raise AssertionError(f"joined {joined}, yet heard {heard}: a refusal must hear nothing")


def _browser_catches_up(world: World, principal: Principal) -> bool:
    socket = world.browser_socket(principal)
    with _connected(socket, BROWSER_NAMESPACE) as connected:
        if not connected:
            return False
        request = {"scan_id": world.scan_id, "measurement": world.measurement, "from_row": 0}
        reply = socket.emit("catch_up", request, callback=True)
        return isinstance(reply, dict) and reply.get("ok") is True and bool(reply.get("columns"))


def _browser_disconnect_forgets_the_connection(world: World, principal: Principal) -> bool:
    """A user's connection is recorded while it lasts (to be closed when their sessions end)."""
    socket = world.browser_socket(principal)
    with _connected(socket, BROWSER_NAMESPACE) as connected:
        if not connected:
            return False
        connections = world.app.extensions[CONNECTIONS_KEY]
        user_id = world.users[principal.name]
        recorded = len(connections.of(user_id))
        socket.disconnect(namespace=BROWSER_NAMESPACE)
        return recorded == 1 and connections.of(user_id) == []


def _agent_connects(world: World, principal: Principal) -> bool:
    with _connected(world.agent_socket(principal), AGENT_NAMESPACE) as connected:
        return connected


def _agent_registers(world: World, principal: Principal) -> bool:
    socket = world.agent_socket(principal)
    with _connected(socket, AGENT_NAMESPACE) as connected:
        if not connected:
            return False
        reply = socket.emit("register", REGISTRATION, namespace=AGENT_NAMESPACE, callback=True)
        return isinstance(reply, dict) and reply.get("ok") is True


def _agent_event_reaches_the_lab(world: World, principal: Principal) -> bool:
    """An event the agent sends about the target's scan reaches a browser watching it."""
    watcher = world.browser_socket(BY_NAME["owner"])
    socket = world.agent_socket(principal)
    with _connected(watcher, BROWSER_NAMESPACE), _connected(socket, AGENT_NAMESPACE) as connected:
        assert watcher.emit("join", _rooms(world)[0], callback=True)["ok"]
        watcher.get_received()
        if not connected:
            return False
        socket.emit("register", REGISTRATION, namespace=AGENT_NAMESPACE, callback=True)
        payload = {"scan_id": world.scan_id, "status": "paused", "progress": 0.5}
        socket.emit("event", {"name": "scan_status", "payload": payload}, namespace=AGENT_NAMESPACE)
        return any(m["name"] == "scan_status" for m in watcher.get_received())


def _agent_disconnect_marks_the_computer_offline(world: World, principal: Principal) -> bool:
    socket = world.agent_socket(principal)
    with _connected(socket, AGENT_NAMESPACE) as connected:
        if not connected:
            return False
        socket.emit("register", REGISTRATION, namespace=AGENT_NAMESPACE, callback=True)
        online = (world.db.get_computer(world.computer_id).extra_data or {}).get("online")
        socket.disconnect(namespace=AGENT_NAMESPACE)
        offline = not (world.db.get_computer(world.computer_id).extra_data or {}).get("online")
        return bool(online and offline)


#: How each socket event is tried: True if the principal got through.
PROBES: dict[tuple[str, str], Callable[[World, Principal], bool]] = {
    (BROWSER_NAMESPACE, "connect"): _browser_connects,
    (BROWSER_NAMESPACE, "join"): _browser_joins,
    (BROWSER_NAMESPACE, "catch_up"): _browser_catches_up,
    (BROWSER_NAMESPACE, "disconnect"): _browser_disconnect_forgets_the_connection,
    (AGENT_NAMESPACE, "connect"): _agent_connects,
    (AGENT_NAMESPACE, "register"): _agent_registers,
    (AGENT_NAMESPACE, "event"): _agent_event_reaches_the_lab,
    (AGENT_NAMESPACE, "disconnect"): _agent_disconnect_marks_the_computer_offline,
}


def try_event(world: World, namespace: str, event: str, principal: Principal) -> Outcome:
    """Whether ``principal`` got through ``event`` of ``namespace``."""
    passed = PROBES[namespace, event](world, principal)
    return Outcome.PASSED if passed else Outcome.REFUSED
