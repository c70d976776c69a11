"""Station requests and answers as they cross the link between the server and an agent.

The agent answers a request with :func:`answer_enqueue` or :func:`answer_control`; the
server turns the answer back into a result or the exception the station raised, with
:func:`enqueued_from_answer` and :func:`state_from_answer`. An answer never carries a
traceback: the agent logs it, the browser gets one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pybirch.errors import PyBirchError
from pybirch.scan.design import DesignError
from pybirch.station.manual_control import (
    InstrumentActionError,
    ManualTarget,
    Moved,
    Reading,
    SettingsApplied,
)
from pybirch.station.requests import Enqueued, EnqueueRequest, FoundInstruments, LoadSummary
from pybirch.station.station import Station, StationError

log = logging.getLogger(__name__)

T = TypeVar("T")


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


def answer_move(station: Station, message: Any) -> dict[str, Any]:
    """Carry out a ``move_instrument`` message: ``{"ok": True, "position", "units"}``."""

    def move() -> dict[str, Any]:
        target = ManualTarget.from_dict(message["instrument"])
        return {"ok": True, **station.move(target, float(message["position"])).to_dict()}

    return _answer_manual(move, message)


def answer_measure(station: Station, message: Any) -> dict[str, Any]:
    """Carry out a ``measure_instrument`` message: ``{"ok": True, "columns", "units", "rows"}``."""

    def measure() -> dict[str, Any]:
        target = ManualTarget.from_dict(message["instrument"])
        return {"ok": True, **station.measure_once(target).to_dict()}

    return _answer_manual(measure, message)


def answer_apply_settings(station: Station, message: Any) -> dict[str, Any]:
    """Carry out an ``apply_settings`` message: ``{"ok": True, "settings"}``."""

    def apply() -> dict[str, Any]:
        target = ManualTarget.from_dict(message["instrument"])
        return {"ok": True, **station.apply_settings(target, message["settings"]).to_dict()}

    return _answer_manual(apply, message)


def moved_from_answer(answer: dict[str, Any]) -> Moved:
    """Where the instrument went, or the error the station answered."""
    return _manual_result(answer, Moved.from_dict)


def reading_from_answer(answer: dict[str, Any]) -> Reading:
    """The reading the station took, or the error it answered."""
    return _manual_result(answer, Reading.from_dict)


def applied_from_answer(answer: dict[str, Any]) -> SettingsApplied:
    """The settings the instrument has now, or the error the station answered."""
    return _manual_result(answer, SettingsApplied.from_dict)


def _answer_manual(carry_out: Callable[[], dict[str, Any]], message: Any) -> dict[str, Any]:
    """An answer to a manual action; an instrument's own failure is marked ``failed``."""

    def refused(text: str) -> dict[str, Any]:
        return {"ok": False, "error": text}

    def carry_out_marking_failures() -> dict[str, Any]:
        try:
            return carry_out()
        except InstrumentActionError as exc:
            return {"ok": False, "error": str(exc), "failed": True}

    return _answer(carry_out_marking_failures, message, refused)


def _manual_result(answer: dict[str, Any], read: Callable[[dict[str, Any]], T]) -> T:
    if not answer.get("ok") and answer.get("failed"):
        raise InstrumentActionError(str(answer.get("error") or "the instrument failed"))
    _refused(answer)
    try:
        return read(answer)
    except (KeyError, TypeError, ValueError) as exc:
        raise StationError(f"the computer answered something unexpected: {exc}") from exc
