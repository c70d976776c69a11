"""SCPI drivers end to end through pyvisa-sim: commands, parsing, settings and errors.

pyvisa-sim keeps each simulated device's state for the whole process (``*RST`` resets
nothing there), so every test sets the values it asserts on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa.errors

from pybirch.instruments import (
    AdapterError,
    InstrumentConnectionError,
    InstrumentError,
    InvalidSettingError,
    MovementLimitError,
    instrument_from_dict,
    resource_manager,
)
from pybirch.instruments.drivers import (
    SR830,
    Keithley2400CurrentSource,
    Keithley2400Voltmeter,
    parse_float,
    parse_floats,
)
from pybirch.instruments.simulated import (
    FAULTY_SR830_RESOURCE,
    KEITHLEY2400_RESOURCE,
    SIM_BACKEND,
    SIM_DEFINITIONS,
    SR830_RESOURCE,
)
from pybirch.instruments.visa import VisaResourceMixin

#: Short enough that a command the simulator does not know fails fast.
TIMEOUT_MS = 150


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown command surfaces as a timeout: keep it short."""
    monkeypatch.setattr(VisaResourceMixin, "timeout_ms", TIMEOUT_MS)


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """Instruments a test creates; their resources are closed afterwards."""
    instruments: list[Any] = []
    yield instruments
    for instrument in instruments:
        instrument.close_resource()


@pytest.fixture
def raw() -> Iterator[Any]:
    """A direct pyvisa-sim session to the 2400, to check what the drivers left behind."""
    resource = resource_manager(SIM_BACKEND).open_resource(
        KEITHLEY2400_RESOURCE, read_termination="\n", write_termination="\n"
    )
    resource.timeout = TIMEOUT_MS
    yield resource
    resource.close()


def _source(opened: list[Any], **kwargs: Any) -> Keithley2400CurrentSource:
    source = Keithley2400CurrentSource(backend=SIM_BACKEND, **kwargs)
    opened.append(source)
    return source


def _voltmeter(opened: list[Any]) -> Keithley2400Voltmeter:
    meter = Keithley2400Voltmeter(backend=SIM_BACKEND)
    opened.append(meter)
    return meter


def _lockin(opened: list[Any], adapter: str = SR830_RESOURCE) -> SR830:
    lockin = SR830(adapter=adapter, backend=SIM_BACKEND)
    opened.append(lockin)
    return lockin


def test_sim_backend_points_at_the_packaged_definitions() -> None:
    assert SIM_DEFINITIONS.is_absolute()
    assert SIM_DEFINITIONS.is_file()
    assert SIM_BACKEND.endswith("@sim")
    assert SIM_BACKEND.removesuffix("@sim") == str(SIM_DEFINITIONS)
    resources = resource_manager(SIM_BACKEND).list_resources()
    assert {KEITHLEY2400_RESOURCE, SR830_RESOURCE, FAULTY_SR830_RESOURCE} <= set(resources)


# --- Keithley 2400


def test_keithley_connects_after_checking_its_identity(opened: list[Any]) -> None:
    source = _source(opened)

    assert source.instrument is not None  # the adapter was opened at construction
    assert source.connect() is True
    assert source.status is True
    assert "MODEL 2400" in source.identity


def test_keithley_refuses_another_instrument(opened: list[Any]) -> None:
    source = _source(opened, adapter=SR830_RESOURCE)

    with pytest.raises(InstrumentConnectionError, match=r"expected a Keithley 2400.*SR830"):
        source.connect()
    assert source.status is False


def test_keithley_initialize_sources_current_with_compliance(opened: list[Any], raw: Any) -> None:
    raw.write(":SOUR:FUNC VOLT")
    raw.write(":OUTP 0")
    source = _source(opened)
    source.settings = {"compliance_voltage": 12.5}

    source.connect()
    source.initialize()

    assert raw.query(":SOUR:FUNC?") == "CURR"
    assert float(raw.query(":SENS:VOLT:PROT?")) == 12.5
    assert raw.query(":OUTP?") == "1"


def test_keithley_sets_and_reads_back_the_current(opened: list[Any], raw: Any) -> None:
    source = _source(opened)
    source.connect()
    source.initialize()

    for current in (1e-3, -2.5e-2, 0.0, 1.05):
        source.position = current
        assert source.position == pytest.approx(current)
        assert float(raw.query(":SOUR:CURR?")) == pytest.approx(current)


def test_keithley_refuses_currents_outside_its_limits(opened: list[Any]) -> None:
    source = _source(opened)
    source.connect()
    source.position = 2e-3

    with pytest.raises(MovementLimitError, match="outside the limits"):
        source.position = 2.0
    with pytest.raises(MovementLimitError, match="NaN"):
        source.position = math.nan

    assert source.position == pytest.approx(2e-3)


def test_keithley_reports_a_rejected_command(opened: list[Any]) -> None:
    source = _source(opened)
    source.connect()

    with pytest.raises(InstrumentError, match=r"rejected ':SOUR:FUNC OHMS'.*-100"):
        source.command(":SOUR:FUNC OHMS")
    source.command(":SOUR:FUNC CURR")  # the queue was emptied by the failure report


def test_keithley_discards_stale_errors_at_initialize(
    opened: list[Any], raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    raw.write(":NOT:A:COMMAND")
    source = _source(opened)
    source.connect()

    source.initialize()

    assert "discarded errors" in caplog.text
    assert raw.query(":SYST:ERR?").startswith("0,")


def test_keithley_pushes_a_changed_setting_while_connected(opened: list[Any], raw: Any) -> None:
    source = _source(opened)
    source.connect()
    source.initialize()

    source.settings = {"compliance_voltage": 50.0}

    assert float(raw.query(":SENS:VOLT:PROT?")) == 50.0
    with pytest.raises(InvalidSettingError):
        source.settings = {"compliance_voltage": 500.0}
    assert float(raw.query(":SENS:VOLT:PROT?")) == 50.0


def test_keithley_voltmeter_reads_the_voltage(opened: list[Any], raw: Any) -> None:
    meter = _voltmeter(opened)
    meter.settings = {"nplc": 0.1}
    meter.connect()
    meter.initialize()

    reading = meter.perform_measurement()

    assert reading.shape == (1, 1)
    assert reading[0, 0] == pytest.approx(0.1)
    assert meter.columns() == ["voltage (V)"]
    assert float(raw.query(":SENS:VOLT:NPLC?")) == pytest.approx(0.1)


def test_source_and_voltmeter_share_one_adapter(opened: list[Any]) -> None:
    source = _source(opened)
    meter = _voltmeter(opened)

    source.connect()
    meter.connect()
    source.initialize()
    meter.initialize()
    source.position = 1e-3

    assert source.resource_key == meter.resource_key == f"adapter:{KEITHLEY2400_RESOURCE}"
    assert meter.perform_measurement()[0, 0] == pytest.approx(0.1)
    assert source.position == pytest.approx(1e-3)


def test_keithley_shutdown_switches_off_and_closes(opened: list[Any], raw: Any) -> None:
    source = _source(opened)
    source.connect()
    source.initialize()

    source.shutdown()

    assert source.status is False
    assert source.instrument is None
    assert raw.query(":OUTP?") == "0"
    # a later connect reopens the resource
    assert source.connect() is True
    assert source.instrument is not None
    source.position = 3e-3
    assert source.position == pytest.approx(3e-3)


# --- SR830


def test_sr830_reads_x_y_r_theta(opened: list[Any]) -> None:
    lockin = _lockin(opened)
    lockin.connect()

    reading = lockin.perform_measurement()

    assert lockin.columns() == ["X (V)", "Y (V)", "R (V)", "Theta (deg)"]
    assert reading.shape == (1, 4)
    x, y, r, theta = reading[0]
    assert (x, y, r) == pytest.approx((3e-4, 4e-4, 5e-4))
    assert r == pytest.approx(math.hypot(x, y))
    assert theta == pytest.approx(math.degrees(math.atan2(y, x)), abs=1e-4)
    assert [lockin.output(channel) for channel in (1, 2, 3, 4)] == pytest.approx(list(reading[0]))
    with pytest.raises(ValueError, match="1 to 4"):
        lockin.output(5)


def test_sr830_pushes_its_settings_at_initialize(opened: list[Any]) -> None:
    lockin = _lockin(opened)
    lockin.settings = {"sensitivity": 2e-3, "time_constant": 0.3, "frequency": 1234.5}

    lockin.connect()
    lockin.initialize()

    resource = lockin.instrument
    assert resource.query("SENS?") == "18"
    assert resource.query("OFLT?") == "9"
    assert float(resource.query("FREQ?")) == pytest.approx(1234.5)
    assert float(resource.query("PHAS?")) == 0.0


def test_sr830_pushes_changes_only_while_connected(opened: list[Any]) -> None:
    lockin = _lockin(opened)
    lockin.connect()
    lockin.initialize()

    lockin.settings = {"sensitivity": 5e-6, "phase": -45.0}
    assert lockin.instrument.query("SENS?") == "10"
    assert float(lockin.instrument.query("PHAS?")) == -45.0

    lockin.shutdown()
    lockin.settings = {"sensitivity": 1.0}
    lockin.connect()
    assert lockin.instrument.query("SENS?") == "10"  # not sent while disconnected
    lockin.initialize()
    assert lockin.instrument.query("SENS?") == "26"


def test_sr830_refuses_values_outside_its_ranges(opened: list[Any]) -> None:
    lockin = _lockin(opened)

    with pytest.raises(InvalidSettingError, match="sensitivity"):
        lockin.settings = {"sensitivity": 3e-3}
    with pytest.raises(InvalidSettingError, match="frequency"):
        lockin.settings = {"frequency": 2e5}


def test_sr830_reports_a_rejected_command(opened: list[Any]) -> None:
    lockin = _lockin(opened)
    lockin.connect()
    lockin.command("SENS 20")

    with pytest.raises(InstrumentError, match=r"rejected 'SENS 20 / OFLT 25'.*status 32"):
        lockin.command("SENS 20", "OFLT 25")
    lockin.command("OFLT 5")  # reading the status cleared it
    assert lockin.instrument.query("OFLT?") == "5"


def test_sr830_refuses_another_instrument(opened: list[Any]) -> None:
    lockin = _lockin(opened, adapter=KEITHLEY2400_RESOURCE)

    with pytest.raises(InstrumentConnectionError, match=r"expected an SR830.*KEITHLEY"):
        lockin.connect()


def test_sr830_garbage_answers_are_clear_errors(opened: list[Any]) -> None:
    lockin = _lockin(opened, adapter=FAULTY_SR830_RESOURCE)
    assert lockin.connect() is True

    with pytest.raises(InstrumentError, match=r"expected 4 comma-separated numbers.*OVERLOAD"):
        lockin.perform_measurement()
    with pytest.raises(InstrumentError, match=r"empty answer to 'OUTP\? 1'"):
        lockin.output(1)
    with pytest.raises(InstrumentError, match=r"'not-a-number' is not a number"):
        lockin.output(2)


def test_sr830_silence_is_a_clear_error(opened: list[Any]) -> None:
    lockin = _lockin(opened, adapter=FAULTY_SR830_RESOURCE)
    lockin.connect()

    # the faulty unit knows no SENS and no *ESR?: the check after pushing times out
    with pytest.raises(InstrumentError, match=r"no valid answer to '\*ESR\?'.*GPIB0::9::INSTR"):
        lockin.initialize()


# --- adapters and lifecycle


def test_adapter_assigned_after_construction_opens_the_resource(opened: list[Any]) -> None:
    lockin = _lockin(opened, adapter="")
    assert lockin.instrument is None
    with pytest.raises(InstrumentConnectionError, match="no adapter"):
        lockin.connect()

    lockin.adapter = SR830_RESOURCE

    assert lockin.instrument is not None
    assert lockin.connect() is True
    assert lockin.perform_measurement().shape == (1, 4)


def test_wrong_adapter_is_an_adapter_error(opened: list[Any]) -> None:
    with pytest.raises(AdapterError, match=r"'GPIB0::42::INSTR'.*GPIB0::24::INSTR"):
        _source(opened, adapter="GPIB0::42::INSTR")

    lockin = _lockin(opened)
    with pytest.raises(AdapterError, match="no such resource"):
        lockin.adapter = "GPIB0::43::INSTR"
    assert lockin.instrument is None


def test_shutdown_closes_and_reconnect_works(opened: list[Any]) -> None:
    lockin = _lockin(opened)
    lockin.connect()
    first = lockin.instrument

    lockin.shutdown()

    assert lockin.instrument is None
    assert lockin.status is False
    with pytest.raises(pyvisa.errors.InvalidSession):
        first.query("*IDN?")
    assert lockin.connect() is True
    assert lockin.perform_measurement()[0, 2] == pytest.approx(5e-4)


def test_driver_round_trips_through_json(opened: list[Any], monkeypatch) -> None:
    monkeypatch.setenv("PYBIRCH_VISA_BACKEND", SIM_BACKEND)
    lockin = _lockin(opened)
    lockin.settings = {"sensitivity": 1e-3, "time_constant": 3.0}

    rebuilt = instrument_from_dict(lockin.serialize())
    opened.append(rebuilt)

    assert type(rebuilt) is SR830
    assert rebuilt.adapter == SR830_RESOURCE
    assert rebuilt.backend == SIM_BACKEND
    assert rebuilt.settings == lockin.settings
    assert rebuilt.connect() is True


# --- parsing


def test_parse_float_names_what_it_read() -> None:
    assert parse_float(" +1.5E-03\n", "X") == 1.5e-3
    with pytest.raises(InstrumentError, match="Lock: empty answer while reading X"):
        parse_float("  ", "X", "Lock")
    with pytest.raises(InstrumentError, match="'1,2' is not a number"):
        parse_float("1,2", "X")


def test_parse_floats_checks_the_count() -> None:
    assert parse_floats("1,2,3", 3, "a snapshot") == [1.0, 2.0, 3.0]
    with pytest.raises(InstrumentError, match="expected 3"):
        parse_floats("1,2", 3, "a snapshot")
    with pytest.raises(InstrumentError, match="expected 1"):
        parse_floats("", 1, "a snapshot")
