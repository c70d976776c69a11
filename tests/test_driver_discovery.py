"""Auto-discovery on the lab computer: driver files, the driver catalogue, ``*IDN?`` matching
and the VISA resource scan (through pyvisa-sim and through a scripted resource manager)."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvisa.constants
import pyvisa.errors

from pybirch.instruments import (
    AdapterError,
    DriverFilesError,
    FoundInstrument,
    IdentificationPatternError,
    Measurement,
    UnknownInstrumentClassError,
    default_drivers_dir,
    driver_path,
    instrument_from_dict,
    known_driver_classes,
    load_driver_files,
    match_driver,
    matching_drivers,
    parse_idn,
    resolve_instrument_class,
    resource_manager,
    scan_visa_resources,
    unload_driver_files,
)
from pybirch.instruments.drivers import SR830, Keithley2400CurrentSource, Keithley2400Voltmeter
from pybirch.instruments.registry import registered_instrument_classes
from pybirch.instruments.simulated import (
    FAULTY_SR830_RESOURCE,
    KEITHLEY2400_RESOURCE,
    SILENT_INSTRUMENT_RESOURCE,
    SIM_BACKEND,
    SR830_RESOURCE,
    UNKNOWN_INSTRUMENT_RESOURCE,
    FakeLockin,
    FakeStage,
)

#: Short enough that the silent simulated instrument costs little.
TIMEOUT_MS = 150

KEITHLEY_IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C32   Oct  4 2010 14:20:11/A02  /K/J"
SR830_IDN = "Stanford_Research_Systems,SR830,s/n12345,ver1.07"
RIGOL_IDN = "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000001,00.04.04.SP3"

GOOD_DRIVER = '''\
"""A thermometer driver, as a lab would write it."""
import numpy as np
from pybirch.instruments import Measurement


class Thermometer(Measurement):
    identification = r"^ACME,THERMO-9,"

    def __init__(self, name: str = "Thermometer", adapter: str = "") -> None:
        super().__init__(name, adapter)
        self.data_columns = np.array(["T"])
        self.data_units = np.array(["K"])

    def perform_measurement(self):
        return np.array([[4.2]])
'''

RIGOL_DRIVER = """\
import numpy as np
from pybirch.instruments import Measurement


class RigolScope(Measurement):
    identification = r"^RIGOL TECHNOLOGIES,DS1054Z,"

    def perform_measurement(self):
        return np.zeros((1, 0))
"""


@pytest.fixture
def drivers_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty driver folder; whatever was loaded from it is withdrawn afterwards."""
    folder = tmp_path / "drivers"
    folder.mkdir()
    yield folder
    unload_driver_files(folder)


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


# --- driver files


def test_a_driver_file_registers_its_class_under_its_import_path(drivers_dir: Path) -> None:
    _write(drivers_dir, "thermometer.py", GOOD_DRIVER)

    report = load_driver_files(drivers_dir)

    assert report.failures == ()
    [loaded] = report.loaded
    assert loaded.path == drivers_dir / "thermometer.py"
    assert report.classes == [f"{loaded.module}:Thermometer"]
    cls = resolve_instrument_class(report.classes[0])
    assert cls.__name__ == "Thermometer"
    # an instrument of a file driver serializes and is rebuilt like a built-in one
    rebuilt = instrument_from_dict(cls("Cryostat").serialize())
    assert type(rebuilt) is cls
    assert rebuilt.name == "Cryostat"
    np.testing.assert_array_equal(rebuilt.perform_measurement(), [[4.2]])


def test_the_module_name_is_unique_per_folder_and_stable(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        _write(folder, "thermometer.py", GOOD_DRIVER)
    try:
        a = load_driver_files(first)
        b = load_driver_files(second)

        assert a.classes != b.classes  # same file name, two drivers
        assert {resolve_instrument_class(p) for p in a.classes + b.classes}.__len__() == 2
        unload_driver_files(first)
        again = load_driver_files(first)
        assert again.classes == a.classes  # a restart finds the same import path
    finally:
        unload_driver_files(first)
        unload_driver_files(second)


def test_a_syntax_error_is_reported_with_its_line_and_the_other_files_still_load(
    drivers_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    _write(drivers_dir, "broken.py", "import numpy\n\ndef read(:\n    pass\n")

    with caplog.at_level(logging.WARNING, logger="pybirch.instruments.driver_files"):
        report = load_driver_files(drivers_dir)

    [failure] = report.failures
    assert failure.file_name == "broken.py"
    assert failure.line == 3
    assert failure.error.startswith("SyntaxError: ")
    assert str(failure).startswith("broken.py:3: SyntaxError")
    assert [file.path.name for file in report.loaded] == ["thermometer.py"]
    assert "broken.py:3" in caplog.text


def test_a_file_raising_on_import_is_reported_and_leaves_nothing_registered(
    drivers_dir: Path,
) -> None:
    path = _write(
        drivers_dir,
        "needs_card.py",
        """\
        from pybirch.instruments.simulated import FakeStage


        class CardStage(FakeStage):
            pass


        raise RuntimeError("no GPIB card in this computer")
        """,
    )

    report = load_driver_files(drivers_dir)

    [failure] = report.failures
    assert (failure.path, failure.line) == (path, 8)
    assert failure.error == "RuntimeError: no GPIB card in this computer"
    assert report.loaded == ()
    # the class defined above the failing line was withdrawn with its module
    assert not [c for c in registered_instrument_classes() if c.__name__ == "CardStage"]
    assert not [m for m in sys.modules if "needs_card" in m]


def test_an_exit_call_or_a_bad_identification_is_a_failure_not_a_crash(
    drivers_dir: Path,
) -> None:
    _write(drivers_dir, "exits.py", "import sys\nsys.exit(3)\n")
    _write(
        drivers_dir,
        "bad_pattern.py",
        """\
        from pybirch.instruments.simulated import FakeStage
        class Stage(FakeStage):
            identification = "KEITHLEY(("
        """,
    )

    report = load_driver_files(drivers_dir)

    failures = {failure.file_name: failure for failure in report.failures}
    assert failures["exits.py"].line == 2
    assert failures["exits.py"].error == "SystemExit: 3"
    assert failures["bad_pattern.py"].line == 2
    assert failures["bad_pattern.py"].error.startswith("IdentificationPatternError: ")


def test_a_file_without_an_instrument_class_loads_but_offers_no_driver(
    drivers_dir: Path,
) -> None:
    _write(drivers_dir, "constants.py", "GPIB_ADDRESS = 7\n")

    report = load_driver_files(drivers_dir)

    assert report.failures == ()
    assert report.classes == []
    assert report.files_without_classes == [drivers_dir / "constants.py"]


def test_loading_a_folder_twice_registers_nothing_twice(drivers_dir: Path) -> None:
    _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    first = load_driver_files(drivers_dir)
    registered = registered_instrument_classes()
    cls = resolve_instrument_class(first.classes[0])

    second = load_driver_files(drivers_dir)

    assert second.classes == first.classes
    assert registered_instrument_classes() == registered
    assert resolve_instrument_class(second.classes[0]) is cls  # not imported again


def test_a_changed_file_replaces_its_classes_and_a_deleted_file_withdraws_them(
    drivers_dir: Path,
) -> None:
    path = _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    [old_path] = load_driver_files(drivers_dir).classes

    path.write_text(GOOD_DRIVER.replace("Thermometer", "Pyrometer"))
    changed = load_driver_files(drivers_dir)

    [new_path] = changed.classes
    assert new_path.endswith(":Pyrometer")
    with pytest.raises(UnknownInstrumentClassError):
        resolve_instrument_class(old_path)

    path.unlink()
    emptied = load_driver_files(drivers_dir)

    assert emptied.loaded == ()
    assert emptied.removed == (changed.loaded[0].module,)
    with pytest.raises(UnknownInstrumentClassError):
        resolve_instrument_class(new_path)


def test_a_file_rewritten_at_once_with_the_same_size_runs_its_new_code(
    drivers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a lab computer
    path = _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    [old] = load_driver_files(drivers_dir).classes

    # same size, same second: a bytecode cache keyed on size and mtime would run the old code
    path.write_text(GOOD_DRIVER.replace("4.2", "4.3"))
    [new] = load_driver_files(drivers_dir).classes

    assert new == old
    np.testing.assert_array_equal(resolve_instrument_class(new)().perform_measurement(), [[4.3]])
    assert not (drivers_dir / "__pycache__").exists()  # the lab's folder stays as they left it


def test_a_missing_folder_holds_no_drivers_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    report = load_driver_files(tmp_path / "absent")
    assert (report.loaded, report.failures) == ((), ())

    not_a_folder = tmp_path / "drivers.py"
    not_a_folder.write_text("")
    with pytest.raises(DriverFilesError, match=r"drivers\.py"):
        load_driver_files(not_a_folder)


def test_the_report_is_json(drivers_dir: Path) -> None:
    _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    _write(drivers_dir, "broken.py", "def (")

    document = json.loads(json.dumps(load_driver_files(drivers_dir).to_dict()))

    assert document["failures"][0]["line"] == 1
    assert document["loaded"][0]["classes"][0].endswith(":Thermometer")


def test_the_default_driver_folder_follows_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybirch.database import data_dir

    monkeypatch.setenv("PYBIRCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PYBIRCH_DRIVERS_DIR", raising=False)
    assert default_drivers_dir() == data_dir() / "drivers"

    monkeypatch.setenv("PYBIRCH_DRIVERS_DIR", str(tmp_path / "lab-drivers"))
    assert default_drivers_dir() == tmp_path / "lab-drivers"
    (tmp_path / "lab-drivers").mkdir()
    _write(tmp_path / "lab-drivers", "thermometer.py", GOOD_DRIVER)
    try:
        assert load_driver_files().classes[0].endswith(":Thermometer")
    finally:
        unload_driver_files()


# --- driver catalogue


def test_the_catalogue_lists_concrete_builtin_and_file_drivers(drivers_dir: Path) -> None:
    _write(drivers_dir, "thermometer.py", GOOD_DRIVER)
    [thermometer] = load_driver_files(drivers_dir).classes

    class LocalDriver(FakeStage):
        pass

    paths = [driver_path(cls) for cls in known_driver_classes()]

    for cls in (Keithley2400CurrentSource, Keithley2400Voltmeter, SR830, FakeStage, FakeLockin):
        assert driver_path(cls) in paths
    assert thermometer in paths
    assert paths == sorted(paths)
    for abstract in ("base:Instrument", "base:Measurement", "visa:VisaBaseMeasurementInstrument"):
        assert f"pybirch.instruments.{abstract}" not in paths
    assert driver_path(LocalDriver) not in paths  # no other process could import it


# --- identification


def test_parse_idn_splits_the_four_fields() -> None:
    identity = parse_idn(KEITHLEY_IDN + "\r\n")
    assert identity.manufacturer == "KEITHLEY INSTRUMENTS INC."
    assert identity.model == "MODEL 2400"
    assert identity.serial == "1234567"
    assert identity.firmware == "C32   Oct  4 2010 14:20:11/A02  /K/J"

    short = parse_idn("ACME,WIDGET")
    assert (short.manufacturer, short.model, short.serial, short.firmware) == (
        "ACME",
        "WIDGET",
        None,
        None,
    )
    assert parse_idn("A,B,C,fw 1,2").firmware == "fw 1,2"  # firmware may hold commas


def test_builtin_drivers_match_their_instruments() -> None:
    classes = known_driver_classes()

    assert match_driver(SR830_IDN, classes) is SR830
    assert set(matching_drivers(KEITHLEY_IDN, classes)) == {
        Keithley2400CurrentSource,
        Keithley2400Voltmeter,
    }
    assert match_driver(KEITHLEY_IDN, classes) is Keithley2400CurrentSource  # path order


def test_an_instrument_nobody_drives_matches_nothing() -> None:
    classes = known_driver_classes()

    assert match_driver(RIGOL_IDN, classes) is None
    assert match_driver(KEITHLEY_IDN.replace("MODEL 2400", "MODEL 2401"), classes) is None
    assert match_driver("", classes) is None


def test_the_most_specific_driver_wins_whatever_the_order() -> None:
    class AnyKeithley(Measurement):
        identification = r"^KEITHLEY"

        def perform_measurement(self) -> np.ndarray:
            return np.zeros((1, 0))

    class Keithley2400(AnyKeithley):
        identification = r"^KEITHLEY INSTRUMENTS INC\.,MODEL 2400,"

    class Keithley2400Refined(Keithley2400):
        pass

    class NotAnIdentifier(AnyKeithley):
        identification = None

    classes = [AnyKeithley, Keithley2400, Keithley2400Refined, NotAnIdentifier]

    # a longer match beats a shorter one; with equal matches the subclass wins
    assert matching_drivers(KEITHLEY_IDN, classes) == [
        Keithley2400Refined,
        Keithley2400,
        AnyKeithley,
    ]
    assert match_driver(KEITHLEY_IDN, list(reversed(classes))) is Keithley2400Refined
    assert match_driver("KEITHLEY INSTRUMENTS INC.,MODEL 2000,1,A", classes) is AnyKeithley


def test_a_class_with_an_invalid_pattern_is_refused_where_it_is_written() -> None:
    with pytest.raises(IdentificationPatternError, match=r"\[unclosed"):

        class Broken(FakeStage):
            identification = "[unclosed"


# --- VISA scan on pyvisa-sim


def test_a_scan_finds_the_simulated_instruments_and_their_drivers() -> None:
    found = scan_visa_resources(backend=SIM_BACKEND, timeout_ms=TIMEOUT_MS)

    by_resource = {f.resource: f for f in found}
    assert [f.resource for f in found] == list(resource_manager(SIM_BACKEND).list_resources())
    keithley = by_resource[KEITHLEY2400_RESOURCE]
    assert (keithley.manufacturer, keithley.model, keithley.serial) == (
        "KEITHLEY INSTRUMENTS INC.",
        "MODEL 2400",
        "1234567",
    )
    assert keithley.driver == driver_path(Keithley2400CurrentSource)
    assert driver_path(Keithley2400Voltmeter) in keithley.candidates
    assert keithley.error is None
    for resource in (SR830_RESOURCE, FAULTY_SR830_RESOURCE):
        assert by_resource[resource].driver == driver_path(SR830)
        assert by_resource[resource].firmware == "ver1.07"

    unknown = by_resource[UNKNOWN_INSTRUMENT_RESOURCE]
    assert unknown.idn == RIGOL_IDN
    assert unknown.manufacturer == "RIGOL TECHNOLOGIES"
    assert (unknown.driver, unknown.candidates, unknown.error) == (None, (), None)

    silent = by_resource[SILENT_INSTRUMENT_RESOURCE]
    assert silent.idn is None
    assert silent.driver is None
    assert silent.error == f"no answer to *IDN? within {TIMEOUT_MS} ms"


def test_the_found_instruments_are_json_both_ways() -> None:
    found = scan_visa_resources(backend=SIM_BACKEND, timeout_ms=TIMEOUT_MS)

    document = json.loads(json.dumps([f.to_dict() for f in found]))

    assert [FoundInstrument.from_dict(d) for d in document] == found
    with pytest.raises(TypeError):
        FoundInstrument.from_dict({"resource": "GPIB0::1::INSTR", "idn": 7})
    with pytest.raises(KeyError):
        FoundInstrument.from_dict({"idn": "x"})


def test_a_file_driver_takes_the_instrument_nobody_else_drives(drivers_dir: Path) -> None:
    _write(drivers_dir, "rigol.py", RIGOL_DRIVER)
    [rigol] = load_driver_files(drivers_dir).classes

    found = scan_visa_resources(backend=SIM_BACKEND, query="USB?*::INSTR", timeout_ms=TIMEOUT_MS)

    assert [(f.resource, f.driver) for f in found] == [(UNKNOWN_INSTRUMENT_RESOURCE, rigol)]


def test_a_query_nothing_matches_finds_nothing() -> None:
    assert scan_visa_resources(backend=SIM_BACKEND, query="TCPIP?*::INSTR") == []


def test_a_backend_that_cannot_load_is_an_adapter_error(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"absent\.yaml"):
        scan_visa_resources(backend=f"{tmp_path / 'absent.yaml'}@sim")
    with pytest.raises(ValueError, match="not both"):
        scan_visa_resources(resource_manager(SIM_BACKEND), backend=SIM_BACKEND)


# --- VISA scan on a scripted resource manager: the failures real hardware has


class ScriptedResource:
    """A VISA resource whose ``*IDN?`` answer comes from a function."""

    def __init__(self, answer: Callable[[], str], session: int = 1) -> None:
        self.answer = answer
        self.session = session
        self.timeout: int | None = None
        self.read_termination: str | None = None
        self.write_termination: str | None = None
        self.queries: list[str] = []
        self.closed = False

    def query(self, command: str) -> str:
        self.queries.append(command)
        return self.answer()

    def close(self) -> None:
        self.closed = True


class ScriptedManager:
    """A resource manager over scripted resources; a resource may be an exception to raise."""

    def __init__(self, resources: dict[str, ScriptedResource | BaseException]) -> None:
        self.resources = resources
        self.opened: list[str] = []

    def list_resources(self, query: str = "?*::INSTR") -> tuple[str, ...]:
        return tuple(self.resources)

    def open_resource(self, name: str, open_timeout: int = 0) -> ScriptedResource:
        self.opened.append(name)
        resource = self.resources[name]
        if isinstance(resource, BaseException):
            raise resource
        return resource


def _timeout() -> str:
    raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_timeout)


def _not_text() -> str:
    raise UnicodeDecodeError("ascii", b"\xff", 0, 1, "not text")


def _backend_bug() -> str:
    raise RuntimeError("the VISA backend tripped over itself")


def test_every_failure_is_reported_on_its_resource_and_nothing_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answering = ScriptedResource(lambda: KEITHLEY_IDN + "\r")
    manager = ScriptedManager(
        {
            "GPIB0::1::INSTR": answering,
            "GPIB0::2::INSTR": pyvisa.errors.VisaIOError(
                pyvisa.constants.StatusCode.error_resource_busy
            ),
            "GPIB0::3::INSTR": ScriptedResource(_timeout),
            "GPIB0::4::INSTR": ScriptedResource(lambda: "  "),
            "GPIB0::5::INSTR": ScriptedResource(_not_text),
            "GPIB0::6::INSTR": ScriptedResource(_backend_bug),
            "GPIB0::7::INSTR": ScriptedResource(lambda: "x", session=0),
        }
    )

    with caplog.at_level(logging.INFO, logger="pybirch.instruments.visa_discovery"):
        found = scan_visa_resources(manager, timeout_ms=50)  # type: ignore[arg-type]

    errors = {f.resource: f.error for f in found}
    assert errors["GPIB0::1::INSTR"] is None
    assert found[0].idn == KEITHLEY_IDN
    assert found[0].driver == driver_path(Keithley2400CurrentSource)
    assert answering.queries == ["*IDN?"]
    assert (answering.timeout, answering.read_termination) == (50, "\n")
    assert answering.closed
    assert errors["GPIB0::2::INSTR"].startswith("cannot open: VI_ERROR_RSRC_BUSY")
    assert errors["GPIB0::3::INSTR"] == "no answer to *IDN? within 50 ms"
    assert errors["GPIB0::4::INSTR"] == "empty answer to *IDN?"
    assert errors["GPIB0::5::INSTR"].startswith("*IDN? failed: UnicodeDecodeError")
    assert errors["GPIB0::6::INSTR"] == (
        "probe failed: RuntimeError: the VISA backend tripped over itself"
    )
    assert errors["GPIB0::7::INSTR"] == "cannot open: no such resource"
    assert all(
        r.closed
        for r in manager.resources.values()
        if isinstance(r, ScriptedResource) and r.session
    )
    assert "the VISA backend tripped over itself" in caplog.text  # logged with its traceback


def test_resources_are_asked_at_the_same_time() -> None:
    # Each answer waits until all six are being asked: one after another, the barrier
    # would break and every resource would report it.
    barrier = threading.Barrier(6, timeout=10)

    def answer() -> str:
        barrier.wait()
        return SR830_IDN

    manager = ScriptedManager({f"GPIB0::{i}::INSTR": ScriptedResource(answer) for i in range(6)})

    found = scan_visa_resources(manager, workers=6)  # type: ignore[arg-type]

    assert [f.error for f in found] == [None] * 6
    assert {f.driver for f in found} == {driver_path(SR830)}


def test_a_call_that_never_returns_is_reported_when_the_deadline_passes() -> None:
    release = threading.Event()

    def hang() -> str:
        release.wait()
        return SR830_IDN

    # one worker, stuck in the first resource: the second is never reached
    manager = ScriptedManager(
        {
            "GPIB0::1::INSTR": ScriptedResource(hang),
            "GPIB0::2::INSTR": ScriptedResource(lambda: SR830_IDN),
        }
    )
    try:
        found = scan_visa_resources(manager, workers=1, deadline_s=0.2)  # type: ignore[arg-type]
    finally:
        release.set()

    assert found[0].error == "no answer: the VISA call did not return within 0.2 s"
    assert found[1].error == "not probed: the scan ran out of time within 0.2 s"


def test_excluded_resources_are_listed_but_never_opened() -> None:
    manager = ScriptedManager(
        {
            "GPIB0::1::INSTR": ScriptedResource(lambda: SR830_IDN),
            "GPIB0::2::INSTR": ScriptedResource(lambda: SR830_IDN),
        }
    )

    found = scan_visa_resources(manager, exclude={"GPIB0::2::INSTR"})  # type: ignore[arg-type]

    assert manager.opened == ["GPIB0::1::INSTR"]
    assert found[1] == FoundInstrument(
        "GPIB0::2::INSTR", error="not probed: excluded by the caller"
    )


def test_scan_arguments_are_checked() -> None:
    manager = ScriptedManager({})
    with pytest.raises(ValueError, match="timeout_ms"):
        scan_visa_resources(manager, timeout_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        scan_visa_resources(manager, workers=0)  # type: ignore[arg-type]
    assert scan_visa_resources(manager) == []  # type: ignore[arg-type]


def test_a_found_instrument_round_trips_without_optional_fields() -> None:
    bare: dict[str, Any] = {"resource": "ASRL1::INSTR"}
    assert FoundInstrument.from_dict(bare) == FoundInstrument("ASRL1::INSTR")
