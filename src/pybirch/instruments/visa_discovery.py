"""Find the instruments attached to this computer: list VISA resources, ask each ``*IDN?``.

Every resource is opened and asked in its own worker thread with a short timeout, so the
scan takes about one timeout however many resources never answer. A resource that cannot
be opened or does not answer is reported with its error; nothing a resource does makes the
scan raise. The answer is matched against the known driver classes
(:func:`~pybirch.instruments.identification.match_driver`).

Asking ``*IDN?`` writes to the instrument: a resource that a running scan is using should be
passed in ``exclude``, so its conversation is not interleaved with ours.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyvisa
import pyvisa.constants
import pyvisa.errors

from pybirch.instruments import visa as visa_io
from pybirch.instruments.base import Instrument
from pybirch.instruments.driver_catalogue import known_driver_classes
from pybirch.instruments.errors import AdapterError
from pybirch.instruments.identification import matching_drivers, parse_idn
from pybirch.instruments.registry import instrument_class_path

log = logging.getLogger(__name__)

#: How long a resource may take to open and to answer ``*IDN?``, in milliseconds. An
#: instrument answers in a few ms over GPIB, USB or LAN, and 60 characters at 9600 baud take
#: about 60 ms: 500 ms leaves room and keeps a scan well under a second.
DEFAULT_TIMEOUT_MS = 500

#: At most this many resources are asked at once.
DEFAULT_WORKERS = 32

#: Slack added to the scan's deadline for thread start-up and Python's own work.
_DEADLINE_SLACK_S = 1.0

#: What opening, reading or writing a resource raises when it fails the expected ways.
_VISA_ERRORS = (pyvisa.errors.Error, OSError, ValueError, UnicodeDecodeError)


@dataclass(frozen=True)
class FoundInstrument:
    """One VISA resource and what it said: its identity and driver, or why there is none."""

    resource: str
    #: The ``*IDN?`` answer, stripped; None if the resource gave none.
    idn: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    #: Import path (``module:QualName``) of the most specific matching driver, if any.
    driver: str | None = None
    #: Why the resource has no identity (could not open, no answer, ...); None if it answered.
    error: str | None = None
    #: Every matching driver, most specific first (``driver`` is the first); a Keithley
    #: 2400 has two, its current-source and voltmeter drivers.
    candidates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoundInstrument:
        """Read a :meth:`to_dict` document; KeyError or TypeError if it is not one."""

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{key} must be a string or null, not {type(value).__name__}")
            return value

        resource = data["resource"]
        if not isinstance(resource, str):
            raise TypeError(f"resource must be a string, not {type(resource).__name__}")
        candidates = data.get("candidates") or []
        if not isinstance(candidates, list | tuple) or not all(
            isinstance(c, str) for c in candidates
        ):
            raise TypeError("candidates must be a list of strings")
        return cls(
            resource=resource,
            idn=text("idn"),
            manufacturer=text("manufacturer"),
            model=text("model"),
            serial=text("serial"),
            firmware=text("firmware"),
            driver=text("driver"),
            error=text("error"),
            candidates=tuple(candidates),
        )


def scan_visa_resources(
    resource_manager: pyvisa.ResourceManager | None = None,
    *,
    backend: str | None = None,
    query: str = "?*::INSTR",
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    workers: int = DEFAULT_WORKERS,
    drivers: Sequence[type[Instrument]] | None = None,
    exclude: Collection[str] = (),
    deadline_s: float | None = None,
) -> list[FoundInstrument]:
    """List the VISA resources matching ``query`` and identify each one, in parallel.

    ``resource_manager`` defaults to PyBirch's shared manager of ``backend`` (default
    ``PYBIRCH_VISA_BACKEND``). ``drivers`` defaults to :func:`known_driver_classes`.
    Resources in ``exclude`` are listed but not opened. A probe that has not returned by
    ``deadline_s`` (default: enough rounds of open + write + read timeouts for every
    resource, plus a second) is reported as such and left to finish in the background: a
    VISA call that ignores its timeout cannot hold the scan. Results come in the order the
    VISA library lists the resources.

    Raises :class:`AdapterError` only when the backend cannot be loaded or listed.
    """
    if resource_manager is not None and backend is not None:
        raise ValueError("pass a resource manager or a backend, not both")
    if timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be positive, not {timeout_ms!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers!r}")
    manager = resource_manager
    if manager is None:
        manager = visa_io.resource_manager(
            visa_io.default_backend() if backend is None else backend
        )
    names = _list_resources(manager, query)
    classes = known_driver_classes() if drivers is None else list(drivers)
    excluded = set(exclude)
    to_probe = [name for name in names if name not in excluded]
    threads = min(workers, len(to_probe))
    if deadline_s is None and threads:
        rounds = math.ceil(len(to_probe) / threads)
        deadline_s = rounds * 3 * timeout_ms / 1000 + _DEADLINE_SLACK_S

    started = time.perf_counter()
    probed = _probe_all(manager, to_probe, timeout_ms, threads, classes, deadline_s)
    found = [
        probed[name]
        if name in probed
        else FoundInstrument(name, error="not probed: excluded by the caller")
        for name in names
    ]
    log.info(
        "VISA scan of %r: %d resource(s), %d identified, %d with a driver, in %.2f s",
        query,
        len(found),
        sum(f.idn is not None for f in found),
        sum(f.driver is not None for f in found),
        time.perf_counter() - started,
    )
    return found


def identify(
    resource: str, idn: str, classes: Sequence[type[Instrument]] | None = None
) -> FoundInstrument:
    """A :class:`FoundInstrument` for ``resource`` from its ``*IDN?`` answer."""
    identity = parse_idn(idn)
    matches = matching_drivers(idn, known_driver_classes() if classes is None else classes)
    paths = tuple(instrument_class_path(cls) for cls in matches)
    return FoundInstrument(
        resource=resource,
        idn=idn,
        manufacturer=identity.manufacturer,
        model=identity.model,
        serial=identity.serial,
        firmware=identity.firmware,
        driver=paths[0] if paths else None,
        candidates=paths,
    )


def _list_resources(manager: pyvisa.ResourceManager, query: str) -> list[str]:
    """The resources matching ``query``; none found is an empty list, not an error."""
    try:
        return list(manager.list_resources(query))
    except pyvisa.errors.VisaIOError as exc:
        # NI-VISA and pyvisa-sim report "nothing matches" as an error
        if exc.error_code == pyvisa.constants.StatusCode.error_resource_not_found:
            return []
        raise AdapterError(f"cannot list VISA resources matching {query!r}: {exc}") from exc
    except (pyvisa.errors.Error, OSError, ValueError) as exc:
        raise AdapterError(f"cannot list VISA resources matching {query!r}: {exc}") from exc


def _probe_all(
    manager: pyvisa.ResourceManager,
    names: list[str],
    timeout_ms: int,
    threads: int,
    classes: Sequence[type[Instrument]],
    deadline_s: float | None,
) -> dict[str, FoundInstrument]:
    """Probe ``names`` on ``threads`` daemon threads; unfinished ones by the deadline say so."""
    if not names:
        return {}
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        pending.put(name)
    results: dict[str, FoundInstrument] = {}
    begun: set[str] = set()
    lock = threading.Lock()
    finished = threading.Event()

    def work() -> None:
        while True:
            try:
                name = pending.get_nowait()
            except queue.Empty:
                return
            with lock:
                begun.add(name)
            found = _probe_guarded(manager, name, timeout_ms, classes)
            with lock:
                results[name] = found
                if len(results) == len(names):
                    finished.set()

    # Daemon threads, not a ThreadPoolExecutor: an executor's threads are joined when the
    # interpreter exits, so a VISA call stuck past its timeout would hold up the exit.
    for index in range(threads):
        threading.Thread(target=work, name=f"visa-scan-{index}", daemon=True).start()
    finished.wait(deadline_s)

    with lock:
        done, started = dict(results), set(begun)
    for name in names:
        if name not in done:
            reason = (
                "no answer: the VISA call did not return"
                if name in started
                else "not probed: the scan ran out of time"
            )
            log.warning("VISA scan: %s: %s within %.1f s", name, reason, deadline_s)
            done[name] = FoundInstrument(name, error=f"{reason} within {deadline_s:.1f} s")
    return done


def _probe_guarded(
    manager: pyvisa.ResourceManager,
    name: str,
    timeout_ms: int,
    classes: Sequence[type[Instrument]],
) -> FoundInstrument:
    """:func:`_probe`, turning an unexpected error into that resource's reported error."""
    try:
        return _probe(manager, name, timeout_ms, classes)
    # A worker thread is a boundary: anything a VISA library or backend raises must become
    # this resource's error, or its result would be missing and its cause lost.
    except Exception as exc:
        log.exception("VISA scan: probing %s failed unexpectedly", name)
        return FoundInstrument(name, error=f"probe failed: {type(exc).__name__}: {exc}")


def _probe(
    manager: pyvisa.ResourceManager,
    name: str,
    timeout_ms: int,
    classes: Sequence[type[Instrument]],
) -> FoundInstrument:
    """Open ``name``, ask ``*IDN?``, close; the resource's identity or its error."""
    try:
        resource = manager.open_resource(name, open_timeout=timeout_ms)
    except _VISA_ERRORS as exc:
        return _unanswered(name, f"cannot open: {exc}")
    if not resource.session:
        # pyvisa-sim hands back a null session for a resource it does not define; there is
        # nothing to close
        return _unanswered(name, "cannot open: no such resource")
    try:
        resource.timeout = timeout_ms
        resource.read_termination = "\n"
        resource.write_termination = "\n"
        idn = resource.query("*IDN?").strip()
    except pyvisa.errors.VisaIOError as exc:
        if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
            return _unanswered(name, f"no answer to *IDN? within {timeout_ms} ms")
        return _unanswered(name, f"*IDN? failed: {exc}")
    except _VISA_ERRORS as exc:
        return _unanswered(name, f"*IDN? failed: {type(exc).__name__}: {exc}")
    finally:
        _close(resource, name)
    if not idn:
        return _unanswered(name, "empty answer to *IDN?", idn="")
    return identify(name, idn, classes)


def _unanswered(name: str, error: str, idn: str | None = None) -> FoundInstrument:
    """A resource without identity; logged, since the scan's caller may only count them."""
    log.info("VISA scan: %s: %s", name, error)
    return FoundInstrument(name, idn=idn, error=error)


def _close(resource: Any, name: str) -> None:
    """Close a probed resource; a failure to close is logged, the scan goes on."""
    try:
        resource.close()
    except (pyvisa.errors.Error, OSError) as exc:
        log.warning("VISA scan: closing %s failed: %s", name, exc)
