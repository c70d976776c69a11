"""Stored driver code cannot leave the sandbox: each attempt fails with a clear error.

Every attempt is stored code run through the real :class:`InstrumentFactory` with a
correct ``approved_code_hash``, so only the sandbox (compile policy, run-time guards,
curated modules, confinement of adapter and backend, child-process limits) stops it.
"""

from __future__ import annotations

import itertools
import textwrap

import pytest

from pybirch.definitions import (
    DefinitionError,
    DefinitionLimitError,
    DefinitionLoadError,
    InstrumentFactory,
    code_hash,
)
from pybirch.instruments.confinement import ConfinementError
from pybirch.instruments.simulated.visa_sim import SIM_BACKEND, SR830_RESOURCE

_ids = itertools.count(10_000)

#: A valid stored driver; each attempt is module-level code after it.
PROBE = '''
class Probe(FakeMeasurementInstrument):
    """A simulated meter the attempts below use."""

    def __init__(self, name="Probe"):
        super().__init__(name)
        self.data_columns = ["x"]
        self.data_units = ["V"]

    def _perform_measurement_impl(self):
        return np.array([[1.0]])

'''

#: A VISA driver whose constructor tries to choose what the binding chooses.
VISA_PROBE = """
class VisaProbe(VisaBaseMeasurementInstrument):
    def __init__(self, name="VisaProbe", adapter=""):
        super().__init__({arguments})
        self.data_columns = ["x"]
        self.data_units = ["V"]

    def _perform_measurement_impl(self):
        return np.array([[1.0]])

probe = VisaProbe("p")
"""


def stored(code: str, name: str = "Probe", version: int = 1, **extra: object) -> dict:
    """A definition of ``code`` as a binding hands it out, approved (hash pinned)."""
    return {
        "id": next(_ids),
        "name": name,
        "version": version,
        "source_code": code,
        "approved_code_hash": code_hash(code),
        **extra,
    }


def load(code: str, **extra: object) -> type:
    return InstrumentFactory.create_class_from_definition(stored(code, **extra))


@pytest.fixture
def short_limits(monkeypatch):
    monkeypatch.setattr(InstrumentFactory, "load_timeout_s", 2.0)
    monkeypatch.setattr(InstrumentFactory, "load_memory_mib", 256)


def attempt(code: str) -> str:
    return PROBE + textwrap.dedent(code)


ESCAPES = [
    # imports
    ("import-os", "import os", 'import of "os" is not allowed'),
    ("import-sys", "import sys", 'import of "sys" is not allowed'),
    ("import-subprocess", "from subprocess import run", 'import from "subprocess"'),
    ("import-socket", "import socket", 'import of "socket" is not allowed'),
    ("import-builtins", "import builtins", 'import of "builtins" is not allowed'),
    ("import-importlib", "import importlib", 'import of "importlib" is not allowed'),
    ("numpy-submodule", "import numpy.f2py", 'import of "numpy.f2py"'),
    (
        "os-from-base-module",
        "from pybirch.instruments.visa import os",
        '"os" may not be imported from "pybirch.instruments.visa"',
    ),
    ("dunder-import", "m = __import__('os')", '"__import__" is an invalid variable name'),
    # builtins and dunders
    ("open", "text = open('/etc/passwd').read()", '"open" is not available'),
    ("subclasses", "k = ().__class__.__base__.__subclasses__()", '"__class__" is an invalid'),
    (
        "function-globals",
        "def f():\n    pass\ng = f.__globals__",
        '"__globals__" is an invalid',
    ),
    ("builtins-name", "b = __builtins__", '"__builtins__" is an invalid'),
    ("globals", "g = globals()", '"globals" is not available'),
    ("getattr-computed", "f = getattr(np, 'lo' + 'ad')", '"getattr" is not available'),
    ("vars", "v = vars(np)", '"vars" is not available'),
    ("type-3-arg", "T = type('T', (), {})", '"type" is not available'),
    ("exec", "exec('import os')", "Exec calls are not allowed"),
    (
        "metaclass",
        "class M(Probe, metaclass=Probe):\n    pass",
        'keyword argument "metaclass" is not allowed',
    ),
    (
        "decorator",
        "@np.lib.format.open_memmap\ndef f():\n    pass",
        '"lib" is not available',
    ),
    # frames, tracebacks, coroutines
    ("generator-frame", "g = (i for i in range(3))\nf = g.gi_frame", '"gi_frame"'),
    (
        "traceback-frame",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.__traceback__.tb_frame",
        '"__traceback__" is an invalid',
    ),
    ("coroutine", "async def c():\n    pass", "AsyncFunctionDef statements are not allowed"),
    (
        "coroutine-frame-by-name",
        "def gen():\n    yield 1\nf = gen().cr_frame",
        '"cr_frame"',
    ),
    # str.format reads attributes past the guard
    ("str-format", "s = '{0.__class__}'.format(1)", "str.format is not available"),
    ("str-format-map", "s = '{x.__class__}'.format_map({'x': 1})", "str.format_map"),
    ("str-class-format", "s = str.format('{0.__class__}', 1)", "str.format is not available"),
    # numpy's doors
    ("np-load", "a = np.load('/etc/passwd', allow_pickle=True)", '"load" is not available'),
    ("np-save", "np.save('/tmp/x.npy', np.zeros(3))", '"save" is not available'),
    ("np-savetxt", "np.savetxt('/tmp/x.txt', np.zeros(3))", '"savetxt" is not available'),
    ("np-fromfile", "a = np.fromfile('/etc/passwd')", '"fromfile" is not available'),
    ("ndarray-tofile", "np.zeros(3).tofile('/tmp/x')", '"tofile" is not available'),
    ("ndarray-dump", "np.zeros(3).dump('/tmp/x')", '"dump" is not available'),
    ("np-memmap", "m = np.memmap('/tmp/x', mode='w+', shape=(3,))", '"memmap" is not'),
    ("np-ctypeslib", "c = np.ctypeslib", '"ctypeslib" is not available'),
    ("np-lib-format", "f = np.lib.format", '"lib" is not available'),
    ("ndarray-ctypes", "p = np.zeros(3).ctypes.data", '"ctypes" is not available'),
    ("np-f2py", "f = np.f2py", '"f2py" is not available'),
    ("np-seterr", "np.seterr(all='raise')", "numpy.seterr is not available"),
    ("np-char-module", "c = np.char", "numpy.char is not available"),
    (
        "rng-native-state",
        "b = np.random.default_rng(0).bit_generator",
        '"bit_generator" is not available',
    ),
    ("time-tzset", "time.tzset()", "time.tzset is not available"),
    # writes to what is not stored code's own
    ("write-curated-module", "np.array = None", "cannot change a CuratedModule"),
    ("write-driver-class", "Probe.kind = 'movement'", "cannot change a ABCMeta object"),
    # the three doors of the base classes
    ("measurement-df", "d = Probe().measurement_df()", '"measurement_df" is not available'),
    ("dataframe-to-csv", "Probe().to_csv('/tmp/x')", '"to_csv" is not available'),
    (
        "settings-file-ref",
        """
        class Schema(Probe):
            def __init__(self):
                super().__init__("s")
                self._define_settings({"a": 1}, schema={"a": {"$ref": "file:///etc/passwd"}})
        s = Schema()
        """,
        "may refer only within itself",
    ),
    (
        "settings-http-ref",
        """
        p = Probe()
        p._define_settings({"a": 1}, schema={"a": {"$ref": "http://10.0.0.1/s.json"}})
        """,
        "may refer only within itself",
    ),
    ("backend-write", "p = Probe()\np.backend = '/tmp/evil.so'", "cannot set 'backend'"),
    ("adapter-write", "p = Probe()\np.adapter = 'TCPIP0::10.0.0.1::INSTR'", "cannot set 'adapter'"),
    ("instrument-write", "p = Probe()\np.instrument = None", "cannot set 'instrument'"),
    # values that steer PyBirch's own code
    ("huge-name", "p = Probe()\np.name = 'x' * 100000", "name must be text"),
    ("columns-not-text", "p = Probe()\np.data_columns = [1, 2]", "data_columns must be a list"),
    ("limits-nan", "p = Probe()\np.limits = (float('nan'), 1)", "limits must be None"),
    (
        "setting-named-adapter",
        "p = Probe()\np._define_settings({'adapter': 'TCPIP0::10.0.0.1::INSTR'})",
        "cannot be named 'adapter'",
    ),
    (
        "setting-dunder-storage",
        "p = Probe()\np._define_settings({'_class__': 1})",
        "identifiers that do not start with '_'",
    ),
]


@pytest.mark.parametrize(("code", "refused"), [pytest.param(c, r, id=i) for i, c, r in ESCAPES])
def test_escape_is_refused(code: str, refused: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load(attempt(code))
    assert refused in str(caught.value)
    assert "<definition Probe v1>" in str(caught.value)


SEALED = [
    ("kind", "kind = 'movement'"),
    ("serialize", "def serialize(self):\n        return {'class': 'os:system'}"),
    ("name-property", "@property\n    def name(self):\n        return 'x' * 10**6"),
    ("columns", "def columns(self):\n        return [object()]"),
    ("identification", "identification = '(a+)+$'"),
]


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in SEALED])
def test_class_body_may_not_redefine_what_pybirch_reads(code: str) -> None:
    source = PROBE.replace("    def __init__", f"    {code}\n\n    def __init__", 1)
    with pytest.raises(DefinitionLoadError, match="may not define"):
        load(source)


@pytest.mark.parametrize(
    ("arguments", "refused"),
    [
        pytest.param(
            "name, adapter, '/tmp/evil.so'", "cannot choose the VISA backend", id="backend"
        ),
        pytest.param(
            "name, 'TCPIP0::10.0.0.1::5025::SOCKET'", "cannot choose its adapter", id="adapter"
        ),
    ],
)
def test_stored_code_cannot_choose_adapter_or_backend(arguments: str, refused: str) -> None:
    with pytest.raises(DefinitionLoadError, match=refused):
        load(VISA_PROBE.format(arguments=arguments))


def test_a_long_loop_at_import_is_stopped(short_limits) -> None:
    with pytest.raises(DefinitionLimitError, match=r"took longer than 2 s"):
        load(attempt("n = 0\nwhile True:\n    n += 1"))


def test_sleeping_at_import_is_stopped(short_limits) -> None:
    with pytest.raises(DefinitionLimitError, match=r"took longer than 2 s"):
        load(attempt("time.sleep(600)"))


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("big = [0] * (10 ** 10)", id="list"),
        pytest.param("big = np.ones(10 ** 10)", id="numpy"),
    ],
)
def test_a_huge_allocation_at_import_is_stopped(short_limits, code: str) -> None:
    with pytest.raises(DefinitionLimitError, match=r"used more than 256 MiB") as caught:
        load(attempt(code))
    assert caught.value.line == PROBE.count("\n") + 1


# -- doors reached at scan time, on a real (simulated) VISA resource -------------------------

VISA_DOOR = """
class Door(VisaBaseMeasurementInstrument):
    def __init__(self, name="Door", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = ["x"]
        self.data_units = ["V"]

    def _perform_measurement_impl(self):
        {body}
        return np.array([[1.0]])
"""


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        pytest.param("lib = self.instrument.visalib", '"visalib"', id="visalib"),
        pytest.param(
            "self.instrument.resource_manager.open_resource('TCPIP0::10.0.0.1::INSTR')",
            '"resource_manager"',
            id="resource-manager",
        ),
        pytest.param("s = self.instrument.session", '"session"', id="session"),
        pytest.param("self.backend = '/tmp/evil.so'", "cannot set 'backend'", id="backend"),
        pytest.param("df = self.measurement_df()", '"measurement_df"', id="measurement-df"),
    ],
)
def test_visa_doors_are_closed_at_scan_time(body: str, refused: str) -> None:
    definition = stored(VISA_DOOR.format(body=body), name="Door")
    door = InstrumentFactory.create_instance(definition, SR830_RESOURCE, backend=SIM_BACKEND)
    assert door.connect()
    with pytest.raises(DefinitionError, match=refused):
        door.perform_measurement()
    door.shutdown()


def test_pybirch_itself_cannot_be_steered_into_another_backend() -> None:
    definition = stored(VISA_DOOR.format(body="pass"), name="Door")
    door = InstrumentFactory.create_instance(definition, SR830_RESOURCE, backend=SIM_BACKEND)
    with pytest.raises(ConfinementError, match="cannot choose its adapter"):
        door.adapter = "TCPIP0::10.0.0.1::5025::SOCKET"
    with pytest.raises(ConfinementError, match="cannot choose the VISA backend"):
        door.backend = "/tmp/evil.so"
    assert door.backend == SIM_BACKEND
    assert door.adapter == SR830_RESOURCE
    door.shutdown()
