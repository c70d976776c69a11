"""The access matrix: every route and socket event, tried by every kind of caller.

Who may use what is in :mod:`access_matrix` (one entry per endpoint and socket event, as
the least role it needs); the cells here are every rule of the app's URL map and every
method, times every principal, and every socket handler of the server times every
principal. A route or event added without an entry fails here until its rule is written.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from access_matrix import (
    PROBES,
    ROUTES,
    SOCKET_EVENTS,
    Access,
    Outcome,
    Principal,
    Route,
    World,
    app_routes,
    build_world,
    classify,
    route_cells,
    route_outcome,
    send,
    socket_cells,
    socket_events,
    socket_outcome,
    throwaway_app,
    try_event,
)

with throwaway_app() as _app:
    APP_ROUTES = app_routes(_app)
EVENTS = socket_events()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One target lab and every principal, shared by the cells (requests change nothing)."""
    directory = tmp_path_factory.mktemp("access")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYBIRCH_DATA_DIR", str(directory / "data"))
        env.delenv("DATABASE_URL", raising=False)
        world = build_world(directory)
        yield world
        world.app.extensions["pybirch.station"].close()
        world.db.close()


def test_every_route_has_an_entry() -> None:
    endpoints = {route.endpoint for route in APP_ROUTES}
    missing = sorted(endpoints - ROUTES.keys())
    assert not missing, f"add these endpoints to ROUTES in tests/access_matrix.py: {missing}"
    assert not sorted(ROUTES.keys() - endpoints), "ROUTES names endpoints the app no longer has"
    assert len(APP_ROUTES) >= 50


def test_every_socket_event_has_an_entry() -> None:
    missing = sorted(set(EVENTS) - SOCKET_EVENTS.keys())
    assert not missing, f"add these events to SOCKET_EVENTS in tests/access_matrix.py: {missing}"
    assert SOCKET_EVENTS.keys() == set(EVENTS) == PROBES.keys()


@pytest.mark.parametrize(("route", "access", "principal"), route_cells(APP_ROUTES))
def test_route(world: World, route: Route, access: Access | None, principal: Principal) -> None:
    assert access is not None, f"{route.rule} ({route.endpoint}) has no entry in ROUTES"
    response = send(world, route, access, principal)
    outcome = classify(response)
    expected = route_outcome(access.expected(principal))
    assert outcome is expected, (
        f"{route.method} {route.rule} by {principal.name}: {response.status_code} "
        f"({outcome.value}); the rule ({access.describe()}) demands {expected.value}"
    )
    if outcome is Outcome.PASSED and principal.role is None:  # not a member of the target
        assert world.target_name not in response.get_data().decode(errors="replace")


@pytest.mark.parametrize(("namespace", "event", "principal"), socket_cells(EVENTS))
def test_socket_event(world: World, namespace: str, event: str, principal: Principal) -> None:
    rule = SOCKET_EVENTS.get((namespace, event))
    assert rule is not None, f"{namespace} {event} has no entry in SOCKET_EVENTS"
    expected = socket_outcome(rule.expected(principal))
    assert try_event(world, namespace, event, principal) is expected, (
        f"{namespace} {event} by {principal.name}: the rule ({rule.describe()}) "
        f"demands {expected.value}"
    )
