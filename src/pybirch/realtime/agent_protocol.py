"""What a lab computer's agent and the server say to each other over Socket.IO.

The agent connects *out* to the server's ``/agent`` namespace with ``auth={"token": ...}``
(a computer token made by a lab admin). Then:

agent -> server
    ``register`` {"computer": {hostname, platform, username, pid}, "instruments": [InstrumentInfo
    dicts], "queues": [{"id", "name", "state"}]}; the reply is {"ok", "computer_id", "lab_id",
    "name"}. Sent on every (re)connection and whenever its queues change.
    ``event`` {"name", "payload", "seq"}: a live event (:mod:`pybirch.realtime.events`),
    relayed by the server to the browsers' rooms after checking it belongs to the agent's
    lab. ``seq`` numbers the events of one connection from 0: the server handles each
    message in its own thread, and passes events on in ``seq`` order whatever order its
    threads finish in. Events without ``seq`` (older agents) are passed on as they come.

server -> agent (each answered through the Socket.IO acknowledgement)
    ``enqueue`` {"lab_id", "design" (ScanDesign dict), "sample_id", "queue": {"id"} or
    {"name"}, "operator", "start"} -> {"ok": True, "scan_id", "queue_id"} or
    {"ok": False, "errors": {field: message}}.
    ``control`` {"queue_id", "scan_id" (or None for the whole queue), "action"} ->
    {"ok": True, "status"} or {"ok": False, "error"}.
    ``find_instruments`` {} -> {"ok": True, "found": [FoundInstrument dicts]}: a VISA
    resource scan of the computer (``*IDN?`` of each resource not in use).
    ``load_instruments`` {} -> {"ok": True, "loaded": [names], "failed": {name: why}}: load
    the instruments bound to the computer since it started (or last loaded).
    ``move_instrument`` {"instrument": {"binding_id", "name", "lab_id"}, "position"} ->
    {"ok": True, "position", "units"}; ``measure_instrument`` {"instrument"} ->
    {"ok": True, "columns", "units", "rows"}; ``apply_settings`` {"instrument",
    "settings"} -> {"ok": True, "settings"} (set on the live instrument and written back).
    A refusal (a scan holds the instrument, a position outside its limits) is
    {"ok": False, "error"}; an instrument that failed adds ``"failed": True``.
"""

from __future__ import annotations

from typing import Any

from pybirch.realtime.events import Event

AGENT_NAMESPACE = "/agent"
REGISTER = "register"
EVENT = "event"
ENQUEUE = "enqueue"
CONTROL = "control"
FIND_INSTRUMENTS = "find_instruments"
LOAD_INSTRUMENTS = "load_instruments"
MOVE_INSTRUMENT = "move_instrument"
MEASURE_INSTRUMENT = "measure_instrument"
APPLY_SETTINGS = "apply_settings"
#: Field of an ``event`` message numbering it within its connection (0, 1, 2, ...).
SEQ = "seq"
#: Largest ``seq`` accepted (the largest whole number a JSON number carries exactly).
MAX_SEQ = 2**53 - 1
#: Why the server refuses a connection whose token it does not know.
TOKEN_REFUSED = "unknown computer token"
#: Seconds the server waits for an agent to answer a request.
REPLY_TIMEOUT = 10.0


def event_message(event: Event) -> dict[str, Any]:
    """The ``event`` message that carries ``event``."""
    return {"name": event.name, "payload": event.payload()}
