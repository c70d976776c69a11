"""The restricted environment stored driver code is compiled and run in.

:func:`load_driver_class` compiles approved code with RestrictedPython under
:class:`~pybirch.definitions.policy.DriverPolicy`, runs it as a module in a fresh namespace
and returns its one driver class. The namespace is the whole world stored code sees:

* **builtins**: RestrictedPython's ``safe_builtins`` (no ``open``, ``getattr``, ``type``,
  ``__import__`` of the real kind...) plus the harmless ones drivers use (``super``,
  ``property``, ``min``, ``sorted``, ``enumerate``...), a ``hasattr`` that answers through
  the attribute guard, and ``__import__`` = :func:`~.guards.guarded_import`;
* **guards** (:mod:`.guards`): ``_getattr_``, ``_getitem_``, ``_write_``,
  ``_inplacevar_``, ``_apply_`` and ``_print_``; ``_getiter_`` is plain ``iter`` and the
  unpacking hooks unpack as Python does (iteration reaches nothing attribute access
  would not);
* **modules**: ``np``/``numpy``, ``math`` and ``time`` as curated stand-ins
  (:mod:`.curated_modules`), never the real modules (numpy's ``ctypeslib``, ``lib``,
  ``f2py``, ``save``/``load`` are doors to native code, processes and files);
* **base classes**: every allowed base class by name (the seed's code uses
  ``VisaBaseMeasurementInstrument`` without importing it);
* ``__metaclass__ = type`` (RestrictedPython builds classes with it) and ``__name__`` =
  ``pybirch_definition_<id>_v<version>``, the module the class reports.

The driver class is *confined* (:mod:`pybirch.instruments.confinement`, by its module
name, as soon as its class statement runs): its adapter and
VISA backend come from the binding, and ``self.instrument`` is a narrow view of the
resource. It may not redefine the members PyBirch reads back (:mod:`.driver_values`).

RestrictedPython limits neither time nor memory: :mod:`.child_check` runs the same
:func:`load_driver_class` in a child process with limits before a class is loaded here.
"""

from __future__ import annotations

import builtins
import re
import traceback
from collections.abc import Mapping
from types import CodeType, TracebackType
from typing import Any

from RestrictedPython import compile_restricted_exec, safe_builtins

from pybirch.definitions.base_classes import BASE_CLASSES
from pybirch.definitions.curated_modules import CURATED_MODULES
from pybirch.definitions.driver_values import check_sealed_members
from pybirch.definitions.errors import DefinitionLoadError, SandboxViolation
from pybirch.definitions.guards import (
    StoredCodePrint,
    guarded_apply,
    guarded_getattr,
    guarded_getitem,
    guarded_hasattr,
    guarded_import,
    guarded_inplacevar,
    guarded_write,
    unguarded_unpack,
)
from pybirch.definitions.policy import FORBIDDEN_NAMES, DriverPolicy
from pybirch.instruments.base import Instrument
from pybirch.instruments.confinement import STORED_MODULE_PREFIX
from pybirch.instruments.registry import unregister_module

#: Builtins drivers need beyond RestrictedPython's safe set.
EXTRA_BUILTINS = (
    "super",
    "property",
    "staticmethod",
    "classmethod",
    "min",
    "max",
    "sum",
    "enumerate",
    "zip",
    "map",
    "filter",
    "sorted",
    "reversed",
    "any",
    "all",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "iter",
    "next",
    "object",
    "bytes",
    "bytearray",
    "format",
    "print",
    "TimeoutError",
    "ConnectionError",
    "StopIteration",
)

_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name not in FORBIDDEN_NAMES},
    **{name: getattr(builtins, name) for name in EXTRA_BUILTINS},
    "hasattr": guarded_hasattr,
    "__import__": guarded_import,
}

_GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": unguarded_unpack,
    "_unpack_sequence_": unguarded_unpack,
    "_write_": guarded_write,
    "_inplacevar_": guarded_inplacevar,
    "_apply_": guarded_apply,
    "_print_": StoredCodePrint,
}

_LINE = re.compile(r"^Line (\d+):")


def module_name(definition_id: object, version: object) -> str:
    """The module name stored code runs as: ``pybirch_definition_<id>_v<version>``."""
    return f"{STORED_MODULE_PREFIX}{definition_id}_v{version}"


def source_name(name: object, version: object) -> str:
    """The file name tracebacks of stored code carry: ``<definition MyLockIn v3>``."""
    return f"<definition {name} v{version}>"


def sandbox_namespace(module: str) -> dict[str, Any]:
    """A fresh module namespace for stored code (see the module docstring)."""
    return {
        "__builtins__": dict(_BUILTINS),
        "__name__": module,
        "__metaclass__": type,
        **_GUARDS,
        "np": CURATED_MODULES["numpy"],
        "numpy": CURATED_MODULES["numpy"],
        "math": CURATED_MODULES["math"],
        "time": CURATED_MODULES["time"],
        **{base.name: base.cls for base in BASE_CLASSES.values()},
    }


def compile_stored_code(source_code: str, filename: str) -> CodeType:
    """Compile stored code under the driver policy; refuse it with the first problem's line."""
    result = compile_restricted_exec(source_code, filename=filename, policy=DriverPolicy)
    if result.errors or result.code is None:
        first = _LINE.match(result.errors[0]) if result.errors else None
        raise DefinitionLoadError(
            f"{filename} does not compile under the sandbox policy: "
            + "; ".join(result.errors or ["no code"]),
            int(first.group(1)) if first else None,
        )
    return result.code


def load_driver_class(source_code: str, *, module: str, filename: str) -> type[Instrument]:
    """Compile and run stored code in a fresh sandbox; return its one confined driver class.

    Errors raised by the code become :class:`DefinitionLoadError` naming ``filename`` and
    the line of the stored code they came from.
    """
    code = compile_stored_code(source_code, filename)
    namespace = sandbox_namespace(module)
    try:
        exec(code, namespace)  # restricted code, guarded namespace
    except Exception as exc:
        raise load_error(exc, filename, "failed while it ran") from exc
    finally:
        # stored classes register themselves like installed drivers; they are not installed
        # drivers (discovery and the driver catalogue must not offer them)
        unregister_module(module)
    driver = find_driver_class(namespace, module, filename)
    check_sealed_members(driver)
    return driver


def find_driver_class(namespace: Mapping[str, Any], module: str, filename: str) -> type[Instrument]:
    """The one class the stored module defines that derives from an allowed base class."""
    bases = tuple(base.cls for base in BASE_CLASSES.values())
    drivers = [
        value
        for value in namespace.values()
        if isinstance(value, type) and value.__module__ == module and issubclass(value, bases)
    ]
    if len(drivers) != 1:
        found = ", ".join(sorted(d.__name__ for d in drivers)) or "none"
        raise DefinitionLoadError(
            f"{filename} must define exactly one class deriving from a PyBirch base class "
            f"(found: {found})"
        )
    return drivers[0]


def load_error(exc: BaseException, filename: str, what: str) -> DefinitionLoadError:
    """A :class:`DefinitionLoadError` for ``exc`` naming the stored code's line."""
    line = stored_line(exc.__traceback__, filename)
    where = f" at line {line}" if line is not None else ""
    kind = "refused" if isinstance(exc, SandboxViolation) else type(exc).__name__
    return DefinitionLoadError(f"{filename} {what}{where}: {kind}: {exc}", line)


def stored_line(tb: TracebackType | None, filename: str) -> int | None:
    """The innermost line of ``filename`` (the stored code) in a traceback."""
    lines = [frame.lineno for frame in traceback.extract_tb(tb) if frame.filename == filename]
    return lines[-1] if lines else None
