"""ServerDatabase: the lab database as a lab computer with only its token reaches it.

``pybirch agent --server URL --token TOKEN`` without ``DATABASE_URL`` gives its station a
:class:`ServerDatabase` in place of a :class:`~pybirch.database.DatabaseService`: the same
methods the station, its queues and their data manager call, each one a request to the
server's agent gateway (:mod:`pybirch.web.agent_gateway`), which checks it against what
the computer's token grants. Records come back as read-only snapshots
(:class:`~pybirch.realtime.gateway_protocol.RecordSnapshot`): no session on the agent.

Measurement chunks go through :class:`GatewayChunks`: the data manager spools every batch
as before (in the folder of the *server's* database identity), sends the compressed chunks
as bytes, and releases them from the spool only once the server answered, which it does
after its commit. While the server is away every call raises
:class:`~pybirch.database.errors.DatabaseUnreachableError`, which the data manager retries
(the scan measures on, spooling, until the writer's bounded queue is full).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests

from pybirch.database.errors import (
    DatabaseError,
    DatabaseUnreachableError,
    DataIntegrityError,
    NotFoundError,
)
from pybirch.database.services.equipment_care import OverdueInstrument
from pybirch.database.services.queues import QueueRunningError
from pybirch.database.storage import EncodedChunk, Layout
from pybirch.database.storage.chunk_commit import Progress
from pybirch.realtime.gateway_protocol import (
    CHUNK_REQUEST_BYTES,
    CONTENT_TYPE,
    GATEWAY_PREFIX,
    NOT_FOUND,
    QUEUE_RUNNING,
    REFUSED,
    UNAUTHORIZED,
    MessageFormatError,
    RecordSnapshot,
    pack,
    unpack,
)

log = logging.getLogger(__name__)

#: Seconds to wait for the server to accept a connection, and for its answer.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 120.0
#: Requests of one commit in flight at once (each a transaction of its own on the server).
PARALLEL_REQUESTS = 3


class GatewayTokenError(DatabaseUnreachableError, PermissionError):
    """The server does not know this computer's token (reset, or the computer removed).

    For the data manager the database is then out of reach like a server that is away:
    its chunks stay in the spool, and are stored when the agent runs with a valid token.
    """


class GatewayRefusedError(DatabaseError, PermissionError):
    """The server refused a request outside what this computer's token grants."""


class GatewayRequestError(DatabaseError, ValueError):
    """The server could not make sense of a request (a bug, or a newer or older server)."""


class GatewayNotFoundError(NotFoundError):
    """The server has no such record this computer may see."""

    def __init__(self, message: str) -> None:
        DatabaseError.__init__(self, message)
        self.kind = "record"
        self.key = None


@dataclass
class SnapshotPage:
    """A page of records as :meth:`DatabaseService.search_queues` gives one."""

    items: list[RecordSnapshot] = field(default_factory=list)
    has_next: bool = False


class ServerDatabase:
    """The DatabaseService calls of a station, sent to the server's agent gateway."""

    #: Stands where a DatabaseService names its SQL dialect (no SQL on this side).
    dialect = "server"

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._local = threading.local()
        self._identity: str | None = None
        self._chunks: GatewayChunks | None = None
        self._chunks_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ServerDatabase {self.url}>"

    def __getattr__(self, name: str) -> Any:
        # Only for names not defined here: a DatabaseService call a station did not make
        # before. Say where it goes rather than fail with a bare AttributeError.
        raise AttributeError(
            f"a lab computer with only its token has no database call {name!r}; if its station "
            f"needs it, add it to ServerDatabase and to the gateway's allow-list "
            f"(pybirch/web/agent_gateway_methods.py) with its scope check"
        )

    @property
    def url(self) -> str:
        """Where the database is reached, for messages (no token in it)."""
        return f"{self.server_url}{GATEWAY_PREFIX}"

    def close(self) -> None:
        """Stop the chunk senders and close this thread's connection to the server."""
        with self._chunks_lock:
            if self._chunks is not None:
                self._chunks.close()
                self._chunks = None
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # -- the wire -------------------------------------------------------------------------

    def call(self, method: str, **kwargs: Any) -> Any:
        """Run one gateway method; its result, or the error the server answered with."""
        try:
            response = self._session().post(
                f"{self.url}/{method}", data=pack({"kwargs": kwargs}), timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise DatabaseUnreachableError(f"{self.server_url} cannot be reached: {exc}") from exc
        if response.status_code >= 500:
            raise DatabaseUnreachableError(
                f"{self.server_url} answered {response.status_code} to {method}: "
                f"{_message(response)}"
            )
        if response.status_code != 200:
            raise _error(method, response)
        try:
            return unpack(response.content)["result"]
        except (MessageFormatError, KeyError, TypeError) as exc:
            raise GatewayRequestError(
                f"{method}: the server's answer is unreadable: {exc}"
            ) from exc

    def _session(self) -> requests.Session:
        # One keep-alive connection per thread: the writer's chunks never wait behind a
        # station thread's call, and requests' sessions are not meant to be shared.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Authorization": f"Bearer {self._token}",
                    "Content-Type": CONTENT_TYPE,
                    "Accept": CONTENT_TYPE,
                }
            )
            self._local.session = session
        return session

    # -- the database ---------------------------------------------------------------------

    def database_identity(self) -> str:
        """The server database's own identity (the spool folder's name), asked once."""
        if self._identity is None:
            self._identity = str(self.call("database_identity"))
        return self._identity

    def chunk_target(self) -> GatewayChunks:
        """Where a data manager on this database commits its chunks: the gateway."""
        with self._chunks_lock:
            if self._chunks is None:
                self._chunks = GatewayChunks(self)
            return self._chunks

    def get_or_create_user(self, username: str) -> RecordSnapshot:
        """The lab member of that name (``id`` None if none: the server makes no users)."""
        return self.call("get_or_create_user", username=username)

    def get_lab(self, lab_id: int) -> RecordSnapshot:
        """This computer's lab (its id and name)."""
        return self.call("get_lab", lab_id=lab_id)

    # -- queues ---------------------------------------------------------------------------

    def get_queue(self, queue_id: int | str, *, lab_id: int | None = None) -> RecordSnapshot:
        """One of this computer's queues, by id or QID."""
        return self.call("get_queue", queue_id=queue_id, lab_id=lab_id)

    def get_queue_with_scans(
        self, queue_id: int, *, lab_id: int | None = None, with_settings: bool = True
    ) -> RecordSnapshot:
        """One of this computer's queues with its scans."""
        return self.call("get_queue_with_scans", queue_id=queue_id)

    def create_or_reuse_queue(
        self, queue_id: str, *, lab_id: int | None = None, **fields: Any
    ) -> RecordSnapshot:
        """The record of a queue this computer opens (its own of that QID, taken over)."""
        fields.setdefault("computer_name", socket.gethostname())
        return self.call("create_or_reuse_queue", queue_id=queue_id, lab_id=lab_id, **fields)

    def search_queues(
        self,
        text: str | None = None,
        *,
        lab_id: int | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> SnapshotPage:
        """This computer's queues of a status, all on the first page."""
        if text is not None:
            raise GatewayRequestError("a lab computer lists its queues by status, not by text")
        if page > 1:
            return SnapshotPage()
        return SnapshotPage(self.call("search_queues", lab_id=lab_id, status=status))

    def update_queue_status(self, queue_id: int, status: str, **fields: Any) -> RecordSnapshot:
        """Record a queue's status."""
        return self.call("update_queue_status", queue_id=queue_id, status=status, **fields)

    def update_queue(self, queue_id: int, **fields: Any) -> RecordSnapshot:
        """Record a queue's progress."""
        return self.call("update_queue", queue_id=queue_id, **fields)

    def add_queue_log(
        self,
        queue_id: int,
        level: str,
        message: str,
        scan_id: str | None = None,
        timestamp: Any = None,
    ) -> None:
        """Append to a queue's log."""
        self.call(
            "add_queue_log",
            queue_id=queue_id,
            level=level,
            message=message,
            scan_id=scan_id,
            timestamp=timestamp,
        )

    def mark_interrupted(self, queue_id: int, reason: str = "interrupted") -> list[RecordSnapshot]:
        """Mark a queue whose run died, and its running scans, interrupted."""
        return self.call("mark_interrupted", queue_id=queue_id, reason=reason)

    # -- scans ----------------------------------------------------------------------------

    def create_scan(self, scan_name: str, **fields: Any) -> RecordSnapshot:
        """A new scan record in one of this computer's queues."""
        fields.setdefault("scan_id", uuid.uuid4().hex)
        fields.setdefault("computer_name", socket.gethostname())
        return self.call("create_scan", scan_name=scan_name, **fields)

    def get_scan(self, scan_id: int | str, *, with_settings: bool = True) -> RecordSnapshot:
        """One of this computer's scans."""
        return self.call("get_scan", scan_id=scan_id, with_settings=with_settings)

    def update_scan(self, scan_id: int, **fields: Any) -> RecordSnapshot:
        """Change a scan's ``extra_data``."""
        return self.call("update_scan", scan_id=scan_id, **fields)

    def update_scan_status(self, scan_id: int, status: str, **fields: Any) -> RecordSnapshot:
        """Record a scan's status; the record as it is then."""
        return self.call("update_scan_status", scan_id=scan_id, status=status, **fields)

    def record_scan_status(self, scan_id: int, status: str, **fields: Any) -> None:
        """Record a scan's status and what it ran with."""
        self.call("record_scan_status", scan_id=scan_id, status=status, **fields)

    def add_scan_log(self, scan_id: int, level: str, message: str, timestamp: Any = None) -> None:
        """Append to a scan's log."""
        self.call(
            "add_scan_log", scan_id=scan_id, level=level, message=message, timestamp=timestamp
        )

    # -- samples --------------------------------------------------------------------------

    def get_sample(self, sample_pk: int) -> RecordSnapshot:
        """A sample of this computer's lab."""
        return self.call("get_sample", sample_pk=sample_pk)

    def get_sample_by_id(self, sample_id: str, lab_id: int | None = None) -> RecordSnapshot | None:
        """The lab's sample of that ID, or None."""
        return self.call("get_sample_by_id", sample_id=sample_id, lab_id=lab_id)

    def create_sample(self, sample_id: str, **fields: Any) -> RecordSnapshot:
        """A sample a scan brings, stored in the lab."""
        return self.call("create_sample", sample_id=sample_id, **fields)

    # -- instruments ----------------------------------------------------------------------

    def get_computer_bindings(
        self,
        computer_name: str | None = None,
        *,
        computer_id: int | None = None,
        lab_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """The instruments bound to this computer, with their approved drivers."""
        if computer_name is not None:
            raise GatewayRequestError("a lab computer names itself by its record id")
        return self.call("get_computer_bindings", computer_id=computer_id, lab_id=lab_id)

    def record_binding_use(
        self,
        binding_id: int,
        *,
        adapter: str | None = None,
        settings: dict[str, Any] | None = None,
        connected: bool = True,
        lab_id: int | None = None,
        loaded_driver: dict[str, Any] | None = None,
    ) -> None:
        """Write back the adapter, settings and driver a binding used here."""
        self.call(
            "record_binding_use",
            binding_id=binding_id,
            adapter=adapter,
            settings=settings,
            connected=connected,
            loaded_driver=loaded_driver,
        )

    def update_instrument_status(
        self,
        equipment_id: int,
        status: str,
        *,
        current_settings: dict[str, Any] | None = None,
        error_message: str | None = None,
    ) -> RecordSnapshot:
        """Record a status of an instrument bound to this computer."""
        return self.call(
            "update_instrument_status",
            equipment_id=equipment_id,
            status=status,
            current_settings=current_settings,
            error_message=error_message,
        )

    def register_instrument_on_computer(
        self, described: Mapping[str, Any], lab_id: int | None, computer_id: int
    ) -> RecordSnapshot:
        """This computer's instrument of that name, refreshed; else made and bound here."""
        return self.call(
            "register_instrument_on_computer",
            described=dict(described),
            lab_id=lab_id,
            computer_id=computer_id,
        )

    def overdue_instruments(
        self,
        lab_id: int | None,
        names: Iterable[str],
        today: date,
        *,
        computer_id: int | None = None,
    ) -> list[OverdueInstrument]:
        """This computer's instruments of those names that are overdue on ``today``."""
        found = self.call(
            "overdue_instruments",
            lab_id=lab_id,
            names=sorted(set(names)),
            today=today,
            computer_id=computer_id,
        )
        return [OverdueInstrument(**item) for item in found]

    def blocks_overdue_scans(self, lab_id: int | None) -> bool:
        """Whether this computer's lab refuses scans on overdue instruments."""
        return bool(self.call("blocks_overdue_scans", lab_id=lab_id))

    # -- measurement data -----------------------------------------------------------------

    def create_measurement_object(
        self,
        scan_id: int,
        name: str,
        columns: Layout,
        *,
        point_shape: Sequence[int] | None = None,
        instrument_name: str | None = None,
    ) -> RecordSnapshot:
        """The measurement ``name`` of one of this computer's scans, made on first use."""
        return self.call(
            "create_measurement_object",
            scan_id=scan_id,
            name=name,
            layout=columns.to_json(),
            point_shape=None if point_shape is None else [int(n) for n in point_shape],
            instrument_name=instrument_name,
        )


class GatewayChunks:
    """A data manager's chunks, committed by the server: acknowledged after its commit.

    A commit of many chunks goes as several requests at once (each its own transaction on
    the server, each answered after it), so the server decodes and stores one part while
    the next is on its way; the commit returns once every part is acknowledged. The scans'
    progress goes last, once every chunk it counts is stored.
    """

    def __init__(
        self,
        db: ServerDatabase,
        request_bytes: int = CHUNK_REQUEST_BYTES,
        parallel: int = PARALLEL_REQUESTS,
    ) -> None:
        self.db = db
        self.request_bytes = request_bytes
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="pybirch-gateway")

    def commit(
        self, chunks: Mapping[int, Sequence[EncodedChunk]], progress: Mapping[int, Progress]
    ) -> None:
        """Store the chunks and the scans' progress; returns once the server committed all."""
        parts = _split(chunks, self.request_bytes)
        progressed = [[scan_id, done, fraction] for scan_id, (done, fraction) in progress.items()]
        if len(parts) == 1:
            self.db.call("store_chunks", chunks=parts[0], progress=progressed)
            return
        sent = [
            self._pool.submit(self.db.call, "store_chunks", chunks=part, progress=[])
            for part in parts
        ]
        for each in sent:
            each.result()  # the first failure is raised: the caller sends every part again
        if progressed:
            self.db.call("store_chunks", chunks=[], progress=progressed)

    def close(self) -> None:
        """Let the parallel senders go (a commit under way finishes first)."""
        self._pool.shutdown(wait=True)

    def stored_spans(
        self, measurement_id: int, first_row: int, end_row: int
    ) -> list[tuple[int, int]]:
        """(first row, end row) of stored chunks overlapping rows ``first_row..end_row``."""
        spans = self.db.call(
            "get_stored_spans", measurement_id=measurement_id, first_row=first_row, end_row=end_row
        )
        return [(int(low), int(high)) for low, high in spans]


def _split(
    chunks: Mapping[int, Sequence[EncodedChunk]], request_bytes: int
) -> list[list[dict[str, Any]]]:
    """The chunks as gateway messages, grouped into requests of about ``request_bytes``."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for measurement_id, encoded in chunks.items():
        for chunk in encoded:
            if parts[-1] and size + len(chunk.payload) > request_bytes:
                parts.append([])
                size = 0
            parts[-1].append(
                {"measurement_id": measurement_id, **chunk.meta(), "payload": chunk.payload}
            )
            size += len(chunk.payload)
    return parts


def _message(response: requests.Response) -> str:
    """The server's message in an error answer (its text if it is not a gateway answer)."""
    try:
        body = unpack(response.content)
    except MessageFormatError:
        return response.text[:200]
    return str(body.get("message")) if isinstance(body, dict) else repr(body)[:200]


def _error(method: str, response: requests.Response) -> DatabaseError:
    """The exception a 4xx answer stands for."""
    message = f"{method}: {_message(response)}"
    try:
        kind = unpack(response.content).get("error")
    except (MessageFormatError, AttributeError):
        kind = None
    if response.status_code == 401 or kind == UNAUTHORIZED:
        return GatewayTokenError(f"the server does not know this computer's token ({message})")
    if kind == NOT_FOUND:
        return GatewayNotFoundError(message)
    if kind == QUEUE_RUNNING:
        return QueueRunningError(message)
    if response.status_code == 409:
        return DataIntegrityError(message)
    if kind == REFUSED or response.status_code == 403:
        return GatewayRefusedError(message)
    return GatewayRequestError(f"{response.status_code} {message}")
