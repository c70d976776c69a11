"""InstrumentFactory: driver classes and instruments from the definitions bindings name.

A definition is the dict :meth:`DatabaseService.get_computer_bindings` hands out with each
bound instrument. Two kinds:

* an **installed driver** names its class (``pybirch_class``, ``module:QualName``), found
  through the instrument registry: PyBirch's own drivers, the lab's driver files
  (:mod:`pybirch.instruments.driver_files`) and packages with a ``pybirch.drivers`` entry
  point;
* a **stored driver** carries ``source_code``: the version a lab admin approved, pinned by
  ``approved_code_hash``. Code whose sha256 is not that hash is refused
  (:class:`UnapprovedCodeError`: it changed in the database behind PyBirch's back). The
  code is first loaded in a child process with time and memory limits
  (:mod:`.child_check`), then in this process in the sandbox (:mod:`.sandbox`). Classes
  are cached by (definition id, version, code hash): an instrument in use keeps its class
  when a newer version is loaded.

Every loader of bound instruments goes through this one hook.
"""

from __future__ import annotations

import hashlib
import inspect
import threading
from collections.abc import Mapping
from typing import Any

from pybirch.definitions.child_check import (
    DEFAULT_MEMORY_MIB,
    DEFAULT_TIMEOUT_SECONDS,
    check_in_child,
)
from pybirch.definitions.errors import DefinitionError, UnapprovedCodeError
from pybirch.definitions.sandbox import (
    compile_stored_code,
    load_driver_class,
    module_name,
    source_name,
)
from pybirch.errors import PyBirchError
from pybirch.instruments.base import Instrument
from pybirch.instruments.confinement import granting, is_confined
from pybirch.instruments.registry import resolve_instrument_class

__all__ = ["DefinitionError", "InstrumentFactory", "UnapprovedCodeError", "code_hash"]

_CacheKey = tuple[object, object, str]
_classes: dict[_CacheKey, type[Instrument]] = {}
# one load per key: two threads binding the same definition get the same class
_classes_lock = threading.Lock()


def code_hash(source_code: str) -> str:
    """The sha256 (hex) a definition's code is pinned by."""
    return hashlib.sha256(source_code.encode("utf-8")).hexdigest()


class InstrumentFactory:
    """Makes driver classes and instruments from definitions (the seed plan's name)."""

    #: Limits of the child process stored code is first loaded in.
    load_timeout_s: float = DEFAULT_TIMEOUT_SECONDS
    load_memory_mib: int = DEFAULT_MEMORY_MIB

    @classmethod
    def create_class_from_definition(cls, definition: Mapping[str, Any]) -> type[Instrument]:
        """The driver class a definition describes."""
        if definition.get("source_code"):
            return cls._stored_class(definition)
        name = definition.get("name") or "a definition"
        path = class_path(str(definition.get("pybirch_class") or ""))
        if path == ":":
            raise DefinitionError(f"{name} names no driver class")
        try:
            return resolve_instrument_class(path)
        except (PyBirchError, ImportError) as exc:
            raise DefinitionError(f"no driver {path!r} on this computer ({exc})") from exc

    @classmethod
    def _stored_class(cls, definition: Mapping[str, Any]) -> type[Instrument]:
        """The sandboxed class of approved stored code, from the cache or loaded."""
        source_code = str(definition["source_code"])
        name, version = definition.get("name") or "definition", definition.get("version")
        actual = code_hash(source_code)
        approved = definition.get("approved_code_hash")
        if not approved or actual != approved:
            raise UnapprovedCodeError(
                f"{name} v{version}: the stored code is not the approved code (its sha256 "
                f"{actual[:12]}… is not the approved {str(approved or 'none')[:12]}…); it "
                "changed in the database after approval and is not run"
            )
        key = (definition.get("id"), version, actual)
        with _classes_lock:
            driver = _classes.get(key)
            if driver is None:
                driver = cls._load(source_code, definition, actual)
                _classes[key] = driver
        return driver

    @classmethod
    def _load(
        cls, source_code: str, definition: Mapping[str, Any], digest: str
    ) -> type[Instrument]:
        name, version = definition.get("name") or "definition", definition.get("version")
        module = module_name(definition.get("id"), version)
        filename = source_name(name, version)
        compile_stored_code(source_code, filename)  # runs nothing: policy errors fail fast
        check_in_child(
            source_code,
            module=module,
            filename=filename,
            name=str(name),
            timeout_s=cls.load_timeout_s,
            memory_mib=cls.load_memory_mib,
        ).raise_for_failure()
        driver = load_driver_class(source_code, module=module, filename=filename)
        # what a scan record names: the definition, its version and the code's hash
        driver.definition_id = definition.get("id")  # type: ignore[attr-defined]
        driver.definition_name = name  # type: ignore[attr-defined]
        driver.definition_version = version  # type: ignore[attr-defined]
        driver.definition_code_hash = digest  # type: ignore[attr-defined]
        driver.driver_version = f"definition v{version} (sha256 {digest[:8]}…)"  # type: ignore[attr-defined]
        return driver

    @classmethod
    def create_instance(
        cls, definition: Mapping[str, Any], adapter: str | None = None, **kwargs: Any
    ) -> Instrument:
        """An instrument of the definition's class, on ``adapter`` if given (not connected).

        ``kwargs`` are constructor options (``name`` among them; the definition's name by
        default); an option the driver does not take is refused, naming it. A stored
        driver takes ``backend`` (the VISA backend) here, from the binding, not from its
        code.
        """
        driver = cls.create_class_from_definition(definition)
        confined = is_confined(driver)
        backend = kwargs.pop("backend", None) if confined else None
        parameters = inspect.signature(driver).parameters
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown:
            raise DefinitionError(
                f"{driver.__name__} takes no option {', '.join(map(repr, unknown))}"
            )
        arguments = {"name": definition.get("name") or driver.__name__, **kwargs}
        if adapter and "adapter" in parameters:
            arguments["adapter"] = adapter
        if not confined:
            return _with_adapter(driver(**arguments), adapter)
        with granting(adapter or "", backend):
            return _with_adapter(driver(**arguments), adapter)


def _with_adapter(instrument: Instrument, adapter: str | None) -> Instrument:
    if adapter and instrument.adapter != adapter:
        instrument.adapter = adapter
    return instrument


def class_path(stored: str) -> str:
    """``module:QualName`` from a stored class path, which may be ``module.QualName``."""
    if ":" in stored:
        return stored
    module, _, qualname = stored.rpartition(".")
    return f"{module}:{qualname}"
