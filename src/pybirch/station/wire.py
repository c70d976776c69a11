"""Station requests and answers as they cross the link between the server and an agent.

The agent answers a request with :func:`answer_enqueue` or :func:`answer_control`; the
server turns the answer back into a result or the exception the station raised, with
:func:`enqueued_from_answer` and :func:`state_from_answer`. An answer never carries a
traceback: the agent logs it, the browser gets one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pybirch.errors import PyBirchError
from pybirch.scan.design import DesignError
from pybirch.station.requests import Enqueued, EnqueueRequest, FoundInstruments, LoadSummary
from pybirch.station.station import Station, StationError

log = logging.getLogger(__name__)


def answer_enqueue(station: Station, message: Any) -> dict[str, Any]:
    """Carry out an ``enqueue`` message: ``{"ok": True, scan_id...}`` or the errors by field."""

    def enqueue() -> dict[str, Any]:
        return {"ok": True, **station.enqueue(EnqueueRequest.from_dict(message)).to_dict()}

    return _answer(enqueue, message, lambda text: {"ok": False, "errors": {"scan": text}})


def answer_control(station: Station, message: Any) -> dict[str, Any]:
    """Carry out a ``control`` message: ``{"ok": True, "status"}`` or ``{"ok": False, "error"}``."""

    def control() -> dict[str, Any]:
        scan_id = message.get("scan_id")
        status = station.control(
            int(message["queue_id"]),
            str(message["action"]),
            None if scan_id is None else str(scan_id),
        )
        return {"ok": True, "status": status}

    return _answer(control, message, lambda text: {"ok": False, "error": text})


def answer_find(station: Station, message: Any) -> dict[str, Any]:
    """Carry out a ``find_instruments`` message: ``{"ok": True, "found": [...]}``."""

    def find() -> dict[str, Any]:
        return {"ok": True, **station.find_instruments().to_dict()}

    return _answer(find, message, lambda text: {"ok": False, "error": text})


def answer_load(station: Station, message: Any) -> dict[str, Any]:
    """Carry out a ``load_instruments`` message: what loaded, and why the others did not."""

    def load() -> dict[str, Any]:
        summary = station.load_bound()
        return {"ok": True, "loaded": summary.loaded, "failed": summary.failed}

    return _answer(load, message, lambda text: {"ok": False, "error": text})


def found_from_answer(answer: dict[str, Any]) -> FoundInstruments:
    """The instruments a station found, or the StationError it answered."""
    _refused(answer)
    try:
        return FoundInstruments.from_dict(answer)
    except (KeyError, TypeError, ValueError) as exc:
        raise StationError(f"the computer answered something unexpected: {exc}") from exc


def load_from_answer(answer: dict[str, Any]) -> LoadSummary:
    """What a station loaded, or the StationError it answered."""
    _refused(answer)
    try:
        return LoadSummary(
            [str(name) for name in answer["loaded"]],
            {str(name): str(why) for name, why in answer["failed"].items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise StationError(f"the computer answered something unexpected: {exc}") from exc


def enqueued_from_answer(answer: dict[str, Any]) -> Enqueued:
    """Where the scan went, or the DesignError the station raised."""
    if not answer.get("ok"):
        errors = answer.get("errors")
        raise DesignError(
            {str(k): str(v) for k, v in errors.items()}
            if isinstance(errors, dict) and errors
            else {"scan": str(answer.get("error") or "the computer refused")}
        )
    try:
        return Enqueued.from_dict(answer)
    except (KeyError, TypeError, ValueError) as exc:
        raise StationError(f"the computer answered something unexpected: {answer!r}") from exc


def state_from_answer(answer: dict[str, Any]) -> str:
    """The new state a control request left, or the StationError it was refused with."""
    _refused(answer)
    return str(answer.get("status"))


def _refused(answer: dict[str, Any]) -> None:
    if not answer.get("ok"):
        raise StationError(str(answer.get("error") or "the computer refused"))


def _answer(
    carry_out: Callable[[], dict[str, Any]],
    message: Any,
    refusal: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    try:
        return carry_out()
    except DesignError as exc:
        return {"ok": False, "errors": exc.errors, "error": str(exc)}
    except PyBirchError as exc:  # refused for a reason the user can act on
        return refusal(str(exc))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("bad request from the server: %r", message, exc_info=exc)
        return refusal(f"bad request: {exc!r}")
    except Exception as exc:  # the browser must hear of it, not wait for a timeout
        log.exception("could not carry out the server's request %r", message)
        return refusal(f"this computer could not do it: {exc}")
