"""The modules stored driver code sees: curated stand-ins for numpy, math and time.

Stored code never receives a real module. A real module is a door: ``numpy`` holds
``ctypeslib`` (native calls), ``lib`` (``lib.format`` reads pickles), ``f2py`` and
``testing`` (both reach ``os`` and ``subprocess``), and functions that read and write files
(``load``, ``save``, ``savetxt``, ``fromfile``, ``memmap``...). A :class:`CuratedModule` is
a read-only bag of the values stored code may use, built once per process:

* **numpy**: every public non-module value of numpy (its maths, array functions, dtypes
  and constants), minus :data:`NUMPY_DENIED` (files, native memory, process-wide state
  such as ``seterr`` and ``set_printoptions`` that would change PyBirch's own arrays);
  its ``linalg``, ``fft`` and ``random`` submodules as curated modules of their own.
  Other submodules (``char``, ``ma``, ``rec``, ``polynomial``...) are left out: ``rec``
  reads files and the rest are not needed by drivers.
* **math**: all of it (pure functions and constants).
* **time**: clocks, ``sleep`` and formatting; not ``tzset``, which changes the process's
  time zone under PyBirch's own timestamps.

Objects these functions return (arrays, generators of random numbers) still carry
attributes that are doors (``ndarray.tofile``, ``ndarray.ctypes``,
``Generator.bit_generator.cffi``); the attribute guard of :mod:`.guards` refuses those by
name.
"""

from __future__ import annotations

import math
import time
import types
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import numpy as np

from pybirch.definitions.errors import SandboxViolation
from pybirch.definitions.policy import FORBIDDEN_ATTRIBUTES

#: numpy names stored code never gets, on top of the policy's forbidden attribute names.
NUMPY_DENIED = frozenset(
    {
        # files and pickles
        "fromregex",
        "genfromtxt",
        "loadtxt",
        "DataSource",
        # native memory
        "from_dlpack",
        # process-wide state PyBirch's own numpy code runs under
        "seterr",
        "seterrcall",
        "geterrcall",
        "errstate",
        "set_printoptions",
        "printoptions",
        "setbufsize",
        # introspection and the build environment
        "info",
        "show_config",
        "show_runtime",
        "get_include",
        "test",
        "add_docstring",
        "add_newdoc",
        "add_newdoc_ufunc",
    }
)

#: numpy submodules stored code gets, as curated modules.
NUMPY_SUBMODULES = ("linalg", "fft", "random")

#: ``time`` functions stored code gets.
TIME_NAMES = (
    "sleep",
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "process_time",
    "localtime",
    "gmtime",
    "mktime",
    "strftime",
    "strptime",
    "asctime",
    "ctime",
    "struct_time",
    "timezone",
    "altzone",
    "daylight",
    "tzname",
)


class CuratedModule:
    """A read-only namespace standing in for a module in stored code."""

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        # values live in the instance dict so a lookup is as fast as a module's;
        # __getattr__ runs only for names that are not there
        vars(self).update(values)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, name: str) -> NoReturn:
        raise SandboxViolation(f"{self._name}.{name} is not available to stored instrument code")

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise SandboxViolation(f"{self._name} cannot be changed by stored instrument code")

    def __delattr__(self, name: str) -> NoReturn:
        raise SandboxViolation(f"{self._name} cannot be changed by stored instrument code")

    def __repr__(self) -> str:
        return f"<curated module {self._name!r}>"

    def names(self) -> frozenset[str]:
        """The names this module offers (for ``from module import name``)."""
        return frozenset(name for name in vars(self) if name != "_name")


def _public_values(module: types.ModuleType, denied: Iterable[str]) -> dict[str, Any]:
    """A module's public non-module values, minus ``denied``."""
    refused = frozenset(denied) | FORBIDDEN_ATTRIBUTES
    values = {}
    for name in dir(module):
        if name.startswith("_") or name in refused:
            continue
        try:
            value = getattr(module, name)
        except AttributeError:  # numpy's deprecated names raise on access
            continue
        if not isinstance(value, types.ModuleType):
            values[name] = value
    return values


def _curated_numpy() -> CuratedModule:
    values = _public_values(np, NUMPY_DENIED)
    for name in NUMPY_SUBMODULES:
        submodule = getattr(np, name)
        values[name] = CuratedModule(f"numpy.{name}", _public_values(submodule, NUMPY_DENIED))
    return CuratedModule("numpy", values)


#: The modules stored code may import, by name, as it imports them.
CURATED_MODULES: dict[str, CuratedModule] = {
    "numpy": _curated_numpy(),
    "math": CuratedModule("math", _public_values(math, ())),
    "time": CuratedModule("time", {name: getattr(time, name) for name in TIME_NAMES}),
}
