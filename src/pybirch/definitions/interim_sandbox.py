"""INTERIM: compiles stored code under the driver policy until :mod:`.sandbox` lands.

Only :mod:`.testing` uses it, and only inside its child process with time and memory
limits. It is replaced by the sandbox's loader (branch ``h-sandbox``), which curates
numpy and guards writes; delete this module when that is merged.
"""

from __future__ import annotations

import builtins
import operator
import warnings
from collections.abc import Callable
from typing import Any

from RestrictedPython import compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

from pybirch.definitions.base_classes import BASE_CLASSES
from pybirch.definitions.policy import FROM_IMPORTS, MODULE_IMPORTS, TEMPLATE_HOOKS, DriverPolicy
from pybirch.definitions.validation import validate_definition
from pybirch.errors import PyBirchError

_EXTRA_BUILTINS = (
    *("super", "property", "staticmethod", "classmethod", "isinstance", "issubclass", "print"),
    *("abs", "min", "max", "sum", "len", "range", "round", "any", "all", "sorted", "reversed"),
    *("float", "int", "str", "list", "tuple", "dict", "set", "bool", "enumerate", "zip", "map"),
    *("filter", "ValueError", "TypeError", "RuntimeError", "AssertionError", "Exception"),
)

_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
}


class SandboxError(PyBirchError):
    """Stored code could not be compiled or loaded."""


class _StdoutPrint:
    """``print`` in stored code writes to standard output (captured by the test runner)."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **options: Any) -> None:
        print(*objects, sep=options.get("sep", " "), end=options.get("end", "\n"))

    def __call__(self) -> str:
        return ""


def _getattr(obj: Any, name: str, default: Any = None) -> Any:
    if (name == "__init__" and isinstance(obj, super)) or name in TEMPLATE_HOOKS:
        return getattr(obj, name)
    return safer_getattr(obj, name)


def _import(name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level=0):
    allowed = name in MODULE_IMPORTS if not fromlist else name in FROM_IMPORTS
    if level or not allowed:
        raise ImportError(f"import of {name!r} is not allowed in stored instrument code")
    return builtins.__import__(name, globals_, locals_, fromlist, level)


def restricted_globals() -> dict[str, Any]:
    """A fresh namespace for stored code: guarded builtins, ``np``, the base classes."""
    import numpy as np

    names = {name: getattr(builtins, name) for name in _EXTRA_BUILTINS}
    return {
        "__builtins__": {**safe_builtins, **names, "__import__": _import},
        "__name__": "pybirch_definition",
        "__metaclass__": type,
        "_getattr_": _getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": lambda ob: ob,
        "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
        "_print_": _StdoutPrint,
        "np": np,
        **{name: base.cls for name, base in BASE_CLASSES.items()},
    }


def run_restricted(source: str, filename: str) -> dict[str, Any]:
    """Compile ``source`` under the driver policy, run it, return its namespace."""
    try:
        with warnings.catch_warnings():  # "prints, but never reads 'printed'": print works
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile_restricted(source, filename, "exec", policy=DriverPolicy)
    except SyntaxError as exc:
        raise SandboxError(f"{filename} does not compile: {exc}") from exc
    namespace = restricted_globals()
    exec(code, namespace)
    return namespace


def load_driver_class(source: str) -> type:
    """The driver class stored code defines."""
    report = validate_definition(source)
    if not report.ok or report.class_name is None:
        raise SandboxError(f"the driver code does not validate: {report.problems[0].message}")
    return run_restricted(source, "<definition>")[report.class_name]


def load_function(source: str, name: str, filename: str) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines, compiled under the driver policy."""
    found = run_restricted(source, filename).get(name)
    if not callable(found):
        raise SandboxError(f"{filename} defines no function {name!r}")
    return found
