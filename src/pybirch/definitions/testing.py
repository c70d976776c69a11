"""Tests that travel with a definition version: its test code run against its simulated device.

A version may carry ``sim_device`` (a pyvisa-sim YAML document) and ``test_code`` (a
``def test(instrument):`` with asserts). :func:`run_definition_test` writes the device to a
temporary file, and in a child process with time and memory limits builds the driver class
through the sandbox, makes an instrument on the device's first resource (VISA backend
``<file>@sim``), compiles the test under the same restrictions as driver code and calls
it. The result is a JSON-able dict::

    {"passed": bool, "message": str, "seconds": float, "line": int | None, "output": str}

where ``line`` is the line of the test that failed. :func:`run_version_test` runs a
stored version's test and keeps the result with the version.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import resource
import signal
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pybirch.definitions import sandbox
from pybirch.definitions.errors import DefinitionLoadError
from pybirch.instruments.base import Instrument
from pybirch.instruments.confinement import granting

if TYPE_CHECKING:
    from pybirch.database import DatabaseService
    from pybirch.database.models import InstrumentDefinition, InstrumentDefinitionVersion

#: The file name test code is compiled under; tracebacks name it.
TEST_SOURCE_NAME = "<test>"
#: Wall-clock seconds a test may take, and CPU seconds the child may use.
DEFAULT_TIMEOUT_S = 30.0
#: Address space of the test's child process, in MiB.
DEFAULT_MEMORY_MB = 2048
#: Output kept from a test (the start, if it printed more).
MAX_OUTPUT_CHARS = 20_000


@dataclass(frozen=True)
class ChildRequest:
    """What the child process needs: the definition, its test, the device file and resource."""

    definition: dict[str, Any]
    test_code: str
    device_path: str | None
    resource: str


def run_definition_test(
    definition: Mapping[str, Any],
    test_code: str | None,
    sim_device: str | None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> dict[str, Any]:
    """Run ``test_code`` on the definition's driver against ``sim_device``; the result dict."""
    if not (test_code and test_code.strip()):
        return _result(False, "this version has no test", 0.0)
    with tempfile.TemporaryDirectory(prefix="pybirch-test-") as folder:
        device_path = None
        resource_name = ""
        if sim_device:
            try:
                resource_name = device_resource(sim_device)
            except ValueError as exc:
                return _result(False, f"the simulated device: {exc}", 0.0)
            device_path = str(Path(folder, "device.yaml"))
            Path(device_path).write_text(sim_device, encoding="utf-8")
        request = ChildRequest(dict(definition), test_code, device_path, resource_name)
        return _run_in_child(request, timeout_s, memory_mb)


def device_resource(sim_device: str) -> str:
    """The first resource a pyvisa-sim document defines (ValueError if none)."""
    try:
        document = yaml.safe_load(sim_device)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, dict) or not resources:
        raise ValueError("it defines no resources (a 'resources:' mapping)")
    return str(next(iter(resources)))


def version_definition(
    definition: InstrumentDefinition, version: InstrumentDefinitionVersion
) -> dict[str, Any]:
    """The dict the factory builds a driver from, for one version (pinned by its hash)."""
    return {
        "id": definition.id,
        "name": definition.name,
        "instrument_type": definition.instrument_type,
        "base_class": definition.base_class,
        "version": version.version,
        "source_code": version.source_code,
        "code_hash": version.code_hash,
        # the version under test may be pending: it is pinned by its own hash
        "approved_code_hash": version.code_hash,
        "data_columns": definition.data_columns,
        "data_units": definition.data_units,
        "default_settings": definition.default_settings,
    }


def run_version_test(
    db: DatabaseService,
    definition_id: int,
    version: int | None = None,
    *,
    lab_id: int | None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run a stored version's test (the latest by default) and keep the result with it."""
    definition = db.get_instrument_definition(definition_id, lab_id=lab_id)
    row = db.get_definition_version(definition_id, version or definition.version, lab_id=lab_id)
    result = run_definition_test(
        version_definition(definition, row), row.test_code, row.sim_device, timeout_s=timeout_s
    )
    # builtin results are PyBirch's own, recorded without a lab
    owner = None if definition.is_builtin else lab_id
    db.record_definition_test(definition_id, row.version, result, lab_id=owner)
    return result


# -- the child process ---------------------------------------------------------------------


def _run_in_child(request: ChildRequest, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    """Run the test in a fresh process; kill it when it takes longer than ``timeout_s``."""
    context = multiprocessing.get_context("spawn")  # no copy of the caller's threads or sockets
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main, args=(request, send, timeout_s, memory_mb), daemon=True
    )
    started = time.perf_counter()
    child.start()
    send.close()
    try:
        if receive.poll(timeout_s + 5.0):  # the child's own start-up is not the test's time
            return receive.recv()
        return _result(
            False, f"the test took longer than {timeout_s:g} s", time.perf_counter() - started
        )
    except EOFError:
        child.join(1.0)
        return _result(False, _ended_message(child.exitcode, timeout_s), 0.0)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def _ended_message(exitcode: int | None, timeout_s: float) -> str:
    """Why the child ended without a result, from its exit code."""
    if exitcode == -signal.SIGXCPU:
        return f"the test used more than {timeout_s:g} s of processor time"
    if exitcode == -signal.SIGKILL:
        return "the test process was killed (out of memory?)"
    return f"the test process ended without a result (exit code {exitcode})"


def _child_main(request: ChildRequest, send: Connection, timeout_s: float, memory_mb: int) -> None:
    """In the child: limit resources, run the test, send back the result."""
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    send.send(_run_test(request))
    send.close()


def _run_test(request: ChildRequest) -> dict[str, Any]:
    """Build the instrument, run ``test(instrument)``, say what happened."""
    output = io.StringIO()
    started = time.perf_counter()
    try:
        with _captured(output):
            test = _test_function(request)
            instrument = _build_instrument(request)
            try:
                test(instrument)
            finally:
                _release(instrument)
    except Exception as exc:  # noqa: BLE001 - any failure of the test is its result
        seconds = time.perf_counter() - started
        line = _test_line(exc)
        return _result(False, _failure_message(exc, line, request), seconds, line, output)
    return _result(True, "passed", time.perf_counter() - started, None, output)


def _build_instrument(request: ChildRequest) -> Instrument:
    """An instrument of the definition's driver, built by the sandbox, on the device's resource.

    The adapter and VISA backend are granted the way a binding grants them: the driver
    cannot choose others.
    """
    definition = request.definition
    driver = sandbox.load_driver_class(
        definition["source_code"],
        module=sandbox.module_name(definition.get("id"), definition.get("version")),
        filename=driver_source_name(definition),
    )
    backend = f"{request.device_path}@sim" if request.device_path else None
    with granting(request.resource, backend):
        instrument = driver(name=definition.get("name") or driver.__name__)
        if request.resource:
            instrument.adapter = request.resource
    return instrument


def _test_function(request: ChildRequest) -> Any:
    """``test`` of the test code, compiled and run in the sandbox, as driver code is."""
    module = sandbox.module_name(request.definition.get("id"), request.definition.get("version"))
    namespace = sandbox.sandbox_namespace(f"{module}_test")
    exec(sandbox.compile_stored_code(request.test_code, TEST_SOURCE_NAME), namespace)
    test = namespace.get("test")
    if not callable(test):
        raise DefinitionLoadError("the test code defines no function test(instrument)")
    return test


def driver_source_name(definition: Mapping[str, Any]) -> str:
    """The file name the definition's code runs under (tracebacks name it)."""
    return sandbox.source_name(definition.get("name"), definition.get("version"))


@contextlib.contextmanager
def _captured(output: io.StringIO) -> Iterator[None]:
    """Standard output, standard error and log records (stored code prints to the log)."""
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            yield
    finally:
        root.removeHandler(handler)


def _release(instrument: Instrument) -> None:
    """Shut the instrument down if the test left it connected."""
    if instrument.status:
        with contextlib.suppress(Exception):
            instrument.shutdown()


def _test_line(exc: BaseException) -> int | None:
    """The line of the test code the failure went through last."""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [f.lineno for f in frames if f.filename == TEST_SOURCE_NAME]
    if lines:
        return lines[-1]
    if isinstance(exc, DefinitionLoadError) and str(exc).startswith(TEST_SOURCE_NAME):
        return exc.line
    return None


def _failure_message(exc: BaseException, line: int | None, request: ChildRequest) -> str:
    """What failed, in words: the assertion (its message or its code) or the error."""
    test_code = request.test_code
    source = ""
    if line is not None and 0 < line <= len(test_code.splitlines()):
        source = test_code.splitlines()[line - 1].strip()
    where = f" at line {line}" if line is not None else ""
    if isinstance(exc, AssertionError):
        return f"assertion failed{where}: {exc or source}"
    driver_line = sandbox.stored_line(exc.__traceback__, driver_source_name(request.definition))
    in_driver = f" (driver line {driver_line})" if driver_line is not None else ""
    return f"{type(exc).__name__}{where}{in_driver}: {exc}"


def _result(
    passed: bool,
    message: str,
    seconds: float,
    line: int | None = None,
    output: io.StringIO | None = None,
) -> dict[str, Any]:
    text = output.getvalue()[:MAX_OUTPUT_CHARS] if output is not None else ""
    return {
        "passed": passed,
        "message": message,
        "seconds": round(seconds, 3),
        "line": line,
        "output": text,
    }
