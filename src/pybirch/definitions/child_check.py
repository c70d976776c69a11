"""Loading stored code once in a child process with time and memory limits.

RestrictedPython stops doors, not loops or allocations: ``while True: pass`` or
``x = [0] * 10**10`` at module level would hang or exhaust the lab computer's PyBirch.
Before a class is loaded in-process, :func:`check_in_child` runs the very same
:func:`~pybirch.definitions.sandbox.load_driver_class` (compile, run the module, find the
class) and, when its constructor needs nothing but a name and an adapter, builds one
instance without an adapter, in a child Python process:

* a watchdog thread in the child ends it after ``timeout_s`` of wall-clock time (stored
  code cannot catch that, unlike an exception), and ``RLIMIT_CPU`` ends it if the thread
  is starved; the parent kills it if it is still alive ``STARTUP_SECONDS`` later;
* ``RLIMIT_AS`` allows ``memory_mib`` of address space on top of what the child uses once
  PyBirch is imported, so a huge allocation fails with ``MemoryError``.

The child answers with one JSON line on its standard output; the parent turns it into a
:class:`ChildCheck`. Run as ``python -m pybirch.definitions.child_check`` (a JSON request on
standard input) only by :func:`check_in_child`.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pybirch
from pybirch.definitions.errors import DefinitionLimitError, DefinitionLoadError
from pybirch.definitions.sandbox import load_driver_class, load_error, stored_line
from pybirch.instruments.confinement import granting

#: Wall-clock seconds stored code may take to load (module run and one instance).
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Address space stored code may add while it loads, in MiB.
DEFAULT_MEMORY_MIB = 512
#: Seconds the child may take to start Python and import PyBirch, on top of the timeout.
STARTUP_SECONDS = 60.0

_EXIT_TIMEOUT = 3
_RESULT_PREFIX = "PYBIRCH-CHILD-CHECK "


@dataclass(frozen=True)
class ChildCheck:
    """What loading stored code in a child process gave."""

    ok: bool
    #: The driver class's name, when it loaded.
    class_name: str | None = None
    #: Whether an instance was built (only for constructors that need no more than a name).
    instantiated: bool = False
    #: Why it failed, naming the definition, version and line.
    message: str | None = None
    #: The line of the stored code the failure points at.
    line: int | None = None
    #: "time" or "memory" when a limit stopped it.
    limit: str | None = None

    def raise_for_failure(self) -> None:
        """Raise the matching :class:`DefinitionLoadError` if the check failed."""
        if self.ok:
            return
        error = DefinitionLimitError if self.limit else DefinitionLoadError
        raise error(self.message or "stored code failed to load", self.line)


def check_in_child(
    source_code: str,
    *,
    module: str,
    filename: str,
    name: str,
    timeout_s: float = DEFAULT_TIMEOUT_SECONDS,
    memory_mib: int = DEFAULT_MEMORY_MIB,
) -> ChildCheck:
    """Load stored code in a limited child process; report how it went."""
    request = {
        "source_code": source_code,
        "module": module,
        "filename": filename,
        "name": name,
        "timeout_s": timeout_s,
        "memory_mib": memory_mib,
    }
    too_slow = ChildCheck(
        False, message=f"{filename} took longer than {timeout_s:g} s to load", limit="time"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pybirch.definitions.child_check"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s + STARTUP_SECONDS,
            env=_child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return too_slow
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_RESULT_PREFIX):
            return ChildCheck(**json.loads(line[len(_RESULT_PREFIX) :]))
    if done.returncode in (_EXIT_TIMEOUT, -9, -24):  # watchdog, SIGKILL, SIGXCPU
        return too_slow
    detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
    return ChildCheck(False, message=f"{filename} could not be loaded: {detail[0]}")


def _child_environment() -> dict[str, str]:
    """The parent's environment, with the folder PyBirch is imported from on the path."""
    environment = dict(os.environ)
    root = str(Path(pybirch.__file__).resolve().parents[1])
    paths = [root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


# -- the child -----------------------------------------------------------------------------


def _limit_resources(timeout_s: float, memory_mib: int) -> None:
    """Start the watchdog, then cap CPU time and address space from here on."""
    watchdog = threading.Timer(timeout_s, os._exit, args=(_EXIT_TIMEOUT,))
    watchdog.daemon = True
    watchdog.start()
    used_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    cpu_limit = int(used_cpu + timeout_s) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 1))
    limit = _address_space_bytes() + memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _address_space_bytes() -> int:
    """This process's current virtual memory size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


def _instantiate(driver: type, name: str) -> bool:
    """Build one instance without an adapter if the constructor needs only name/adapter."""
    parameters = inspect.signature(driver).parameters
    required = {
        key
        for key, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    if required - {"name", "adapter"}:
        return False
    arguments = {
        key: value for key, value in (("name", name), ("adapter", "")) if key in parameters
    }
    with granting(""):
        driver(**arguments)
    return True


def _check(request: dict[str, Any]) -> ChildCheck:
    filename, memory_mib = request["filename"], request["memory_mib"]
    try:
        driver = load_driver_class(
            request["source_code"], module=request["module"], filename=filename
        )
        try:
            instantiated = _instantiate(driver, request["name"])
        except Exception as exc:
            raise load_error(exc, filename, "failed when its class was instantiated") from exc
    except DefinitionLoadError as exc:
        if isinstance(exc.__cause__, MemoryError):
            line = stored_line(exc.__cause__.__traceback__, filename)
            where = f" at line {line}" if line is not None else ""
            message = f"{filename} used more than {memory_mib} MiB while it loaded{where}"
            return ChildCheck(False, message=message, line=line, limit="memory")
        return ChildCheck(False, message=str(exc), line=exc.line)
    except MemoryError:
        message = f"{filename} used more than {memory_mib} MiB while it loaded"
        return ChildCheck(False, message=message, limit="memory")
    return ChildCheck(True, class_name=driver.__name__, instantiated=instantiated)


def main() -> None:
    """The child: read the request, load under limits, print the result line."""
    request = json.loads(sys.stdin.read())
    _limit_resources(request["timeout_s"], request["memory_mib"])
    result = _check(request)
    sys.stdout.write(_RESULT_PREFIX + json.dumps(result.__dict__) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
