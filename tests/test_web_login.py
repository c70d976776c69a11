"""Login under attack: bounded password checks, throttles that count atomically, equal cost."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher, extract_parameters

from pybirch.database.models import Role
from pybirch.web import create_app
from pybirch.web.auth import passwords
from pybirch.web.config import WebConfig
from web_support import PASSWORD, add_member, csrf_token

#: Long enough for any loaded machine; the tests wait on conditions, never on this.
PATIENCE = 60.0


class CountingHasher(PasswordHasher):
    """argon2 as in production, counting checks; ``hold`` keeps checks waiting until set."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0
        self.running = 0
        self.most_running = 0
        self.hold = threading.Event()
        self.hold.set()
        self.changed = threading.Condition()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.changed:
            self.checks += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.changed.notify_all()
        try:
            assert self.hold.wait(PATIENCE)
            return super().verify(hash, password)
        finally:
            with self.changed:
                self.running -= 1
                self.changed.notify_all()


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


@pytest.fixture
def lab(db):
    return db.create_lab("Login Lab")


def app_with(db, **settings: object):
    return create_app(db, WebConfig(secret_key="test-secret", **settings))


def in_parallel(calls: list[Callable[[], int]]) -> Iterator[int]:
    """Run every call at once (released together by a barrier); their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[int] = [0] * len(calls)

    def run(index: int) -> None:
        barrier.wait(PATIENCE)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    return iter(results)


def login_call(app, username: str, password: str, address: str = "127.0.0.1"):
    """A browser's login POST, prepared now (with its CSRF token) and sent when called."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client)
    data = {"username": username, "password": password, "csrf_token": token}
    return lambda: client.post("/login", data=data)


def test_concurrent_wrong_passwords_for_one_user_are_checked_at_most_the_limit(db, lab, hasher):
    add_member(db, lab.id, "alice", Role.MEMBER)
    app = app_with(db, login_attempts=5, hash_concurrency=20, hash_waiting=20)
    calls = [login_call(app, "alice", f"guess {i}") for i in range(20)]
    statuses = Counter(response.status_code for response in in_parallel(calls))
    assert hasher.checks == 5
    assert statuses == {401: 5, 429: 15}


def test_password_checks_beyond_the_bound_are_refused_at_once_with_retry_after(db, hasher):
    app = app_with(
        db,
        hash_concurrency=2,
        hash_waiting=3,
        hash_wait_seconds=PATIENCE,
        login_address_attempts=100,
    )
    hasher.hold.clear()
    calls = [login_call(app, f"user{i}", "wrong password") for i in range(10)]
    answered: list = []

    def send(call: Callable) -> None:
        response = call()
        with hasher.changed:
            answered.append(response)
            hasher.changed.notify_all()

    threads = [threading.Thread(target=send, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    with hasher.changed:
        # Two checks run and three wait: the other five are answered while those still hang.
        assert hasher.changed.wait_for(lambda: hasher.running == 2 and len(answered) == 5, PATIENCE)
    assert {r.status_code for r in answered} == {503}
    assert all(int(r.headers["Retry-After"]) > 0 for r in answered)
    hasher.hold.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert Counter(r.status_code for r in answered) == {503: 5, 401: 5}
    assert hasher.most_running == 2


def test_unknown_inactive_and_passwordless_users_cost_one_check_like_a_known_one(db, lab, hasher):
    add_member(db, lab.id, "alice", Role.MEMBER)
    gone = add_member(db, lab.id, "gone", Role.MEMBER)
    db.update_user(gone, is_active=False)
    db.create_user("operator")  # an operator name from a script: no password
    app = app_with(db, login_attempts=100, login_address_attempts=100)
    for name in ("alice", "nobody", "gone", "operator"):
        before = hasher.checks
        assert login_call(app, name, "wrong password")().status_code == 401
        assert hasher.checks == before + 1, name
    assert login_call(app, "gone", PASSWORD)().status_code == 401


def test_the_stand_in_hash_has_the_parameters_of_real_ones():
    assert extract_parameters(passwords.stand_in_hash()) == extract_parameters(
        passwords.hash_password(PASSWORD)
    )


def test_one_address_is_throttled_across_user_names(db, hasher):
    app = app_with(db, login_attempts=5, login_address_attempts=10)
    for i in range(10):
        assert login_call(app, f"name{i}", "guess")().status_code == 401
    locked = login_call(app, "name10", "guess")()
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert hasher.checks == 10
    assert login_call(app, "name10", "guess", address="10.0.0.2")().status_code == 401


def test_a_successful_login_gives_its_slot_back(db, lab, hasher):
    add_member(db, lab.id, "alice", Role.MEMBER)
    app = app_with(db, login_attempts=2, login_address_attempts=2)
    assert login_call(app, "alice", "guess")().status_code == 401
    for _ in range(3):
        assert login_call(app, "alice", PASSWORD)().status_code == 302
    assert login_call(app, "alice", "guess")().status_code == 401
