"""The run-time guards RestrictedPython calls from compiled stored code.

RestrictedPython rewrites ``a.b`` into ``_getattr_(a, "b")``, ``a.b = v`` and ``a[k] = v``
into writes on ``_write_(a)``, ``x += y`` into ``_inplacevar_("+=", x, y)`` and so on; the
functions here decide. What the compile-time policy (:mod:`.policy`) already refuses is
refused again here, because a guard is the last gate whatever the code looked like:

* :func:`guarded_getattr` refuses names starting with ``_`` (but the template hooks, and
  ``__init__`` on ``super()`` objects), the policy's forbidden attributes (numpy's doors),
  the frame, traceback, generator and coroutine attributes that walk to other code's
  globals (``gi_frame``, ``tb_frame``...), the PyVISA doors (``visalib``,
  ``resource_manager``), ``measurement_df`` and pandas' file writers, and
  ``str.format``/``format_map``, whose ``{0.__class__}`` fields read attributes past
  this guard. Other names take a fast path: one set lookup and a ``getattr``.
* :func:`guarded_write` lets stored code change only dicts, lists, sets, numpy arrays,
  its resource view and objects of its own classes; on its driver it checks the values
  PyBirch's own code reads back (name, columns, units, limits...), see :mod:`.driver_values`.
* :func:`guarded_import` hands out the curated modules of :mod:`.curated_modules` and
  the allowed base classes, by exact name, and nothing else.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from pybirch.definitions.base_classes import BASE_CLASS_MODULES, BASE_CLASSES
from pybirch.definitions.curated_modules import CURATED_MODULES, CuratedModule
from pybirch.definitions.driver_values import checked_driver_value, is_stored_object
from pybirch.definitions.errors import SandboxViolation
from pybirch.definitions.policy import (
    FORBIDDEN_ATTRIBUTES,
    FROM_IMPORTS,
    MODULE_IMPORTS,
    TEMPLATE_HOOKS,
)
from pybirch.instruments.confinement import StoredResource

#: Attributes that reach other code's frames and globals, on top of RestrictedPython's list.
FRAME_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
    }
)

#: PyVISA's doors (a ctypes library, a resource manager that opens anything) and numpy's
#: native views of a random generator's state.
NATIVE_ATTRIBUTES = frozenset(
    {"visalib", "resource_manager", "session", "bit_generator", "cffi", "capsule"}
)

#: pandas writes files; stored code never gets a DataFrame, and these names are refused too.
PANDAS_ATTRIBUTES = frozenset(
    {
        "measurement_df",
        "to_csv",
        "to_pickle",
        "to_parquet",
        "to_hdf",
        "to_sql",
        "to_excel",
        "to_json",
        "to_feather",
        "to_stata",
        "to_clipboard",
        "to_html",
        "to_latex",
        "to_markdown",
        "to_orc",
        "to_xml",
        "to_xarray",
    }
)

#: ``str`` methods that read attributes of their arguments by names in the string.
STR_FORMAT_METHODS = frozenset({"format", "format_map"})

_DENIED = (
    FORBIDDEN_ATTRIBUTES
    | INSPECT_ATTRIBUTES
    | FRAME_ATTRIBUTES
    | NATIVE_ATTRIBUTES
    | PANDAS_ATTRIBUTES
    | STR_FORMAT_METHODS
)

log = logging.getLogger("pybirch.definitions.stored_code")

#: Attribute names :func:`_check_attribute` let through whatever the object (cache).
_HARMLESS: set[str] = set()
# hasattr(obj, computed_name) could otherwise grow the cache without end
_MAX_HARMLESS = 10_000


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for stored code, unless ``name`` is a door."""
    # the fast path: names already seen to be harmless (stored code's names are constants,
    # so this set stays as small as the code's vocabulary)
    if name in _HARMLESS:
        return getattr(obj, name)
    _check_attribute(obj, name)
    if name not in STR_FORMAT_METHODS and name[:1] != "_" and len(_HARMLESS) < _MAX_HARMLESS:
        _HARMLESS.add(name)
    return getattr(obj, name)


def _check_attribute(obj: Any, name: object) -> None:
    """Raise :class:`SandboxViolation` unless stored code may read ``obj.name``."""
    if type(name) is not str:
        raise SandboxViolation(f"attribute names are text, not {type(name).__name__}")
    if name[:1] == "_":
        if name in TEMPLATE_HOOKS or (name == "__init__" and type(obj) is super):
            return
        raise SandboxViolation(
            f'"{name}" is not available to stored instrument code (it starts with "_")'
        )
    if name not in _DENIED:
        return
    if name in STR_FORMAT_METHODS:
        if isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str)):
            raise SandboxViolation(
                f"str.{name} is not available to stored instrument code (its fields read "
                "attributes); use an f-string"
            )
        return
    raise SandboxViolation(f'"{name}" is not available to stored instrument code')


def guarded_hasattr(obj: Any, name: str) -> bool:
    """``hasattr`` that answers False for what :func:`guarded_getattr` refuses."""
    try:
        guarded_getattr(obj, name)
    except AttributeError:  # SandboxViolation is one
        return False
    return True


class _DriverWriter:
    """Stands for a stored object while stored code assigns to it; checks driver values."""

    __slots__ = ("target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "target", target)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.target, name, checked_driver_value(self.target, name, value))

    def __delattr__(self, name: str) -> None:
        checked_driver_value(self.target, name, None)
        delattr(self.target, name)


_WRITABLE_TYPES = (dict, list, set, np.ndarray, StoredResource)


def guarded_write(obj: Any) -> Any:
    """What stored code's ``obj.x = v`` and ``obj[k] = v`` write to; refuse other objects."""
    if isinstance(obj, _WRITABLE_TYPES):
        return obj
    if is_stored_object(obj):
        return _DriverWriter(obj)
    raise SandboxViolation(
        f"stored instrument code cannot change a {type(obj).__name__} object; it may change "
        "its own objects, dicts, lists, sets and numpy arrays"
    )


def unguarded_unpack(iterable: Any, spec: Any, _getiter_: Any) -> Any:
    """Unpacking targets (``for a, b in pairs``, ``a, b = pair``) as Python does it.

    RestrictedPython's unpacking guards only apply ``_getiter_`` to every nested
    iterable; ours is plain ``iter`` (iterating hides no door), and its per-item copying
    doubled the cost of a driver's loops.
    """
    return iterable


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]`` (no object stored code reaches hides a door behind an item)."""
    return obj[key]


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "@=": operator.imatmul,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """``target op value`` for an augmented assignment to a name."""
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise SandboxViolation(f"the operator {op} is not available") from None


def guarded_apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A call with ``*args``/``**kwargs`` (arguments need no wrapping here)."""
    return function(*args, **kwargs)


def guarded_import(
    name: str,
    globals: dict[str, Any] | None = None,  # the __import__ signature
    locals: dict[str, Any] | None = None,
    fromlist: Iterable[str] | None = (),
    level: int = 0,
) -> Any:
    """The ``__import__`` of stored code: curated modules and base classes, by exact name."""
    names = tuple(fromlist or ())
    if level:
        raise SandboxViolation("relative imports are not available to stored instrument code")
    if name in BASE_CLASS_MODULES and names:
        for wanted in names:
            if wanted not in BASE_CLASSES:
                raise SandboxViolation(f'"{wanted}" may not be imported from "{name}"')
        return _BASE_CLASS_MODULE
    allowed = MODULE_IMPORTS if not names else FROM_IMPORTS
    if name not in allowed or name not in CURATED_MODULES:
        raise SandboxViolation(
            f'import of "{name}" is not available to stored instrument code; it may import '
            f"{', '.join(sorted(MODULE_IMPORTS))} and the PyBirch base classes"
        )
    module = CURATED_MODULES[name]
    for wanted in names:
        if wanted not in module.names():
            raise SandboxViolation(f'"{wanted}" may not be imported from "{name}"')
    return module


_BASE_CLASS_MODULE = CuratedModule(
    "pybirch.instruments", {base.name: base.cls for base in BASE_CLASSES.values()}
)


class StoredCodePrint:
    """RestrictedPython's ``print`` target: stored code's prints go to the log."""

    def __init__(self, _getattr_: Any = None) -> None:
        self.lines: list[str] = []

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        log.info(kwargs.get("sep", " ").join(map(str, objects)))

    def __call__(self) -> str:
        return ""
