"""The agent gateway: the lab database, as far as a computer token reaches, over HTTP.

A lab computer that holds only its token (``pybirch agent --server URL --token TOKEN``,
no ``DATABASE_URL``) stores its queues, scans and points through these routes (see
:mod:`pybirch.realtime.gateway_protocol` for the wire, :mod:`pybirch.web.agent_gateway_methods`
for the allow-list and :mod:`pybirch.web.agent_gateway_scope` for what a token reaches).
Each request is authenticated by the computer token alone, looked up anew every time, so
a token reset or a computer removed ends the agent's access at its next request. Cookies
and user tokens count for nothing here, and the computer token counts for nothing
anywhere else. Every refusal is logged with the computer and the method.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import inspect as orm_inspect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import DetachedInstanceError

from pybirch.database.errors import (
    DatabaseError,
    DataIntegrityError,
    DuplicateError,
    NotFoundError,
)
from pybirch.database.models import (
    Instrument,
    InstrumentStatus,
    MeasurementObject,
    Queue,
    Sample,
    Scan,
    ScanDefinition,
)
from pybirch.database.services.queues import QueueRunningError
from pybirch.realtime.gateway_protocol import (
    BAD_REQUEST,
    CONFLICT,
    CONTENT_TYPE,
    GATEWAY_PREFIX,
    MAX_BODY_BYTES,
    NOT_FOUND,
    QUEUE_RUNNING,
    UNAUTHORIZED,
    UNAVAILABLE,
    MessageFormatError,
    RecordFields,
    pack,
    unpack,
)
from pybirch.web.agent_gateway_methods import METHODS
from pybirch.web.agent_gateway_scope import ComputerScope, GatewayRefusal
from pybirch.web.extensions import csrf
from pybirch.web.services import database

log = logging.getLogger(__name__)

blueprint = Blueprint("agent_gateway", __name__, url_prefix=GATEWAY_PREFIX)
# Authenticated by a bearer token on every request, never by a cookie: no CSRF to forge.
csrf.exempt(blueprint)

#: Records a gateway answer may carry, with the relationships sent along when loaded.
SENT_RECORDS: dict[type, tuple[str, ...]] = {
    Queue: ("scans",),
    Scan: ("definition",),
    ScanDefinition: (),
    Sample: (),
    Instrument: (),
    InstrumentStatus: (),
    MeasurementObject: (),
}


@blueprint.before_request
def _allow_chunk_bodies() -> None:
    """Chunk commits are bigger than forms and uploads: their own limit applies here."""
    request.max_content_length = MAX_BODY_BYTES


@blueprint.post("/<method>")
def call(method: str) -> Response:
    """Run one allow-listed database method for the computer whose token came along."""
    scope = _computer_of_request()
    if scope is None:
        log.warning(
            "agent gateway: refused %s from %s: no valid computer token",
            method,
            request.remote_addr,
        )
        return _answer({"error": UNAUTHORIZED, "message": "send this computer's token"}, 401)
    handler = METHODS.get(method)
    if handler is None:
        return _refused(
            scope, method, GatewayRefusal(404, NOT_FOUND, f"no gateway method {method!r}")
        )
    try:
        kwargs = _arguments(handler, scope)
        result = handler(database(), scope, **kwargs)
        return _answer({"result": snapshot(result)}, 200)
    except GatewayRefusal as refusal:
        return _refused(scope, method, refusal)
    except NotFoundError as exc:  # a lookup that found nothing: no refusal, no warning
        log.info("agent gateway: %s of computer %r: %s", method, scope.name, exc)
        return _answer({"error": NOT_FOUND, "message": str(exc)}, 404)
    except QueueRunningError as exc:
        return _refused(scope, method, GatewayRefusal(409, QUEUE_RUNNING, str(exc)))
    except (DuplicateError, DataIntegrityError) as exc:
        return _refused(scope, method, GatewayRefusal(409, CONFLICT, str(exc)))
    except (OperationalError, InterfaceError) as exc:
        return _unavailable(scope, method, exc)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            return _unavailable(scope, method, exc)
        raise
    except (DatabaseError, ValueError, TypeError) as exc:
        return _refused(scope, method, GatewayRefusal(400, BAD_REQUEST, str(exc)))


def snapshot(value: Any) -> Any:
    """``value`` with database records as :class:`RecordFields` (of allowed kinds only)."""
    if isinstance(value, list | tuple):
        return [snapshot(item) for item in value]
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    relationships = SENT_RECORDS.get(type(value))
    if relationships is None:
        if hasattr(value, "__table__"):
            raise TypeError(f"a {type(value).__name__} record never goes to a lab computer")
        return value
    state = orm_inspect(value)
    fields = {
        column.key: getattr(value, column.key)
        for column in state.mapper.column_attrs
        if column.key not in state.unloaded
    }
    for name in relationships:
        if name not in state.unloaded:
            try:
                fields[name] = snapshot(getattr(value, name))
            except DetachedInstanceError:
                continue  # not loaded with the record: the agent does not get it
    return RecordFields(type(value).__name__, fields)


def _computer_of_request() -> ComputerScope | None:
    """The computer whose token the request carries (checked now, every request)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    computer = database().computer_for_token(token.strip())
    if computer is None or computer.lab_id is None:
        return None
    return ComputerScope(computer.id, computer.lab_id, computer.computer_name)


def _arguments(handler: Any, scope: ComputerScope) -> dict[str, Any]:
    """The request's keyword arguments, if they fit the method (else a 400)."""
    # One read of the whole length: read in small pieces, gunicorn copies its buffer per piece.
    body = request.stream.read(request.content_length or 0)
    try:
        message = unpack(body) if body else {}
    except MessageFormatError as exc:
        raise GatewayRefusal(400, BAD_REQUEST, str(exc)) from None
    kwargs = message.get("kwargs", {}) if isinstance(message, dict) else None
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise GatewayRefusal(400, BAD_REQUEST, "the body is {'kwargs': {name: value}}")
    try:
        inspect.signature(handler).bind(database(), scope, **kwargs)
    except TypeError as exc:
        raise GatewayRefusal(400, BAD_REQUEST, f"{handler.__name__}: {exc}") from None
    return kwargs


def _refused(scope: ComputerScope, method: str, refusal: GatewayRefusal) -> Response:
    log.warning(
        "agent gateway: refused %s of computer %r (id %d, lab %d): %d %s",
        method,
        scope.name,
        scope.computer_id,
        scope.lab_id,
        refusal.status,
        refusal,
    )
    return _answer({"error": refusal.kind, "message": str(refusal)}, refusal.status)


def _unavailable(scope: ComputerScope, method: str, exc: Exception) -> Response:
    log.warning(
        "agent gateway: %s of computer %r: the database is away (%s)", method, scope.name, exc
    )
    return _answer({"error": UNAVAILABLE, "message": "the database is away; try again"}, 503)


def _answer(body: dict[str, Any], status: int) -> Response:
    return Response(pack(body), status=status, content_type=CONTENT_TYPE)
