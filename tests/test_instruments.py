"""Base-class behaviour of instruments: settings, serialization, registry, limits, adapters."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pytest

from pybirch.instruments import (
    AdapterError,
    InvalidSettingError,
    MovementLimitError,
    UnknownInstrumentClassError,
    UnknownSettingError,
    VisaBaseMeasurementInstrument,
    instrument_from_dict,
    resolve_instrument_class,
)
from pybirch.instruments.simulated import (
    SIM_BACKEND,
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakePiezo,
    FakeSpectrometer,
    FakeStage,
    FakeTemperatureController,
    SimulatedSample,
)


@pytest.fixture
def sample() -> SimulatedSample:
    """A private simulated world, so tests never see each other's moves."""
    return SimulatedSample()


# --- settings


def test_settings_add_up_over_the_base_class(sample: SimulatedSample) -> None:
    stage = FakeStage("X stage", axis="x", speed=2.0, sample=sample, delay=0.5, noise=0.1)

    assert stage.settings == {"delay": 0.5, "noise": 0.1, "axis": "x", "speed": 2.0}
    assert set(stage.settings_schema["properties"]) == {"delay", "noise", "axis", "speed"}
    assert stage.default_settings == stage.settings
    # each value lives in the ``_<name>`` attribute drivers read
    assert stage._speed == 2.0
    assert stage._delay == 0.5


def test_unknown_setting_is_rejected_and_names_the_known_ones(sample: SimulatedSample) -> None:
    meter = FakeMultimeter(sample=sample)

    with pytest.raises(UnknownSettingError, match=r"'gain'.*include_current") as info:
        meter.settings = {"gain": 2}
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownSettingError):
        meter.get_setting("gain")


def test_invalid_setting_changes_nothing(sample: SimulatedSample) -> None:
    stage = FakeStage(sample=sample, speed=1.0)
    before = stage.settings

    with pytest.raises(InvalidSettingError, match="delay"):
        stage.settings = {"speed": 5.0, "delay": -1.0}
    with pytest.raises(InvalidSettingError, match="axis"):
        stage.settings = {"axis": ""}

    assert stage.settings == before


def test_invalid_setting_error_is_a_value_error(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample)

    with pytest.raises(ValueError, match="sensitivity"):
        lockin.settings = {"sensitivity": 3e-3}  # not one of the instrument's ranges
    assert lockin.get_setting("sensitivity") == 2e-3


def test_settings_change_and_reset(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample)

    lockin.settings = {"sensitivity": 1e-3, "phase": 45.0}
    assert lockin.get_setting("sensitivity") == 1e-3
    assert lockin.settings["phase"] == 45.0

    lockin.reset_settings()
    assert lockin.settings["sensitivity"] == 2e-3
    assert lockin.settings["phase"] == 0.0


def test_settings_must_be_a_dict(sample: SimulatedSample) -> None:
    with pytest.raises(InvalidSettingError, match="dict"):
        FakeStage(sample=sample).settings = [("speed", 1.0)]  # type: ignore[assignment]


# --- serialize


def test_serialize_describes_a_measurement(sample: SimulatedSample) -> None:
    lockin = FakeLockin("Main lock-in", sample=sample, noise=0.0)

    data = lockin.serialize()

    assert data["class"] == "pybirch.instruments.simulated.lockin:FakeLockin"
    assert data["pybirch_class"] == "FakeLockin"
    assert data["type"] == "measurement"
    assert data["name"] == "Main lock-in"
    assert data["adapter"] == ""
    assert data["data_columns"] == ["X", "Y", "R", "Theta"]
    assert data["data_units"] == ["V", "V", "V", "deg"]
    assert data["settings"] == {
        "delay": 0.0,
        "noise": 0.0,
        "sensitivity": 2e-3,
        "time_constant": 0.1,
        "phase": 0.0,
    }
    json.dumps(data)  # must be plain JSON


def test_serialize_describes_a_movement(sample: SimulatedSample) -> None:
    piezo = FakePiezo("Focus", axis="z", limits=(0.0, 80.0), sample=sample)

    data = piezo.serialize()

    assert data["type"] == "movement"
    assert data["position_column"] == "z"
    assert data["position_units"] == "um"
    assert data["limits"] == [0.0, 80.0]
    assert piezo.position_label() == "z (um)"
    json.dumps(data)


def test_columns_and_dataframe_carry_units(sample: SimulatedSample) -> None:
    meter = FakeMultimeter(sample=sample, include_current=True, noise=0.0)

    frame = meter.measurement_df()

    assert meter.columns() == ["voltage (V)", "current (A)"]
    assert list(frame.columns) == ["voltage (V)", "current (A)"]
    assert frame.shape == (1, 2)


def _configured_instruments(sample: SimulatedSample) -> list[Any]:
    """One of each simulated instrument with settings and limits away from the defaults."""
    return [
        FakeMultimeter("DMM", sample=sample, include_current=True, noise=2e-4, delay=0.01),
        FakeCurrentSource("Source", sample=sample, limits=(-0.02, 0.03), noise=1e-6),
        FakeLockin("Lock-in 2", sample=sample, sensitivity=5e-3, time_constant=0.3, phase=12.5),
        FakeSpectrometer(
            "Spectro",
            sample=sample,
            pixels=256,
            wavelength_start=500.0,
            wavelength_end=650.0,
            integration_time=0.5,
            peaks=[[560.0, 3.0, 1000.0]],
        ),
        FakeStage("Y stage", axis="y", limits=(-10.0, 10.0), speed=3.0, sample=sample),
        FakePiezo("Piezo x", axis="x", limits=(0.0, 30.0), speed=100.0, sample=sample),
        FakeTemperatureController("Cryostat", limits=(4.0, 300.0), ramp_rate=0.5, sample=sample),
    ]


@pytest.mark.parametrize("index", range(7))
def test_instrument_from_dict_round_trip(sample: SimulatedSample, index: int) -> None:
    original = _configured_instruments(sample)[index]
    data = json.loads(json.dumps(original.serialize()))

    rebuilt = instrument_from_dict(data)

    assert type(rebuilt) is type(original)
    assert rebuilt is not original
    assert rebuilt.name == original.name
    assert rebuilt.settings == original.settings
    assert rebuilt.serialize() == original.serialize()
    if hasattr(original, "limits"):
        assert rebuilt.limits == original.limits
        assert rebuilt.position_column == original.position_column


def test_round_trip_restores_derived_columns(sample: SimulatedSample) -> None:
    meter = FakeMultimeter(sample=sample, include_current=True)

    rebuilt = instrument_from_dict(meter.serialize())

    assert list(rebuilt.data_columns) == ["voltage", "current"]
    assert rebuilt.perform_measurement().shape == (1, 2)


def test_round_trip_restores_the_stage_axis() -> None:
    # a rebuilt stage uses the shared sample: leave it as found
    stage = FakeStage("Y", axis="y", sample=SimulatedSample())
    rebuilt = instrument_from_dict(stage.serialize())
    before = dict(rebuilt.sample.positions)
    try:
        rebuilt.position = 12.0
        assert rebuilt.sample.positions["y"] == 12.0
        assert rebuilt.position_column == "y"
    finally:
        rebuilt.sample.positions.clear()
        rebuilt.sample.positions.update(before)


# --- registry


def test_registry_resolves_pybirch_paths() -> None:
    path = "pybirch.instruments.simulated.stage:FakeStage"
    assert resolve_instrument_class(path) is FakeStage


def test_registry_refuses_an_unregistered_foreign_class(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "imported"
    module = tmp_path / "evil_driver_module.py"
    module.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from pybirch.instruments.simulated import FakeStage\n"
        "class Evil(FakeStage):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    data = FakeStage(sample=SimulatedSample()).serialize()
    data["class"] = "evil_driver_module:Evil"

    with pytest.raises(UnknownInstrumentClassError, match="evil_driver_module:Evil"):
        instrument_from_dict(data)

    assert not marker.exists()
    assert "evil_driver_module" not in sys.modules


def test_registry_reports_an_unknown_pybirch_class() -> None:
    with pytest.raises(UnknownInstrumentClassError, match="NoSuchStage"):
        resolve_instrument_class("pybirch.instruments.simulated.stage:NoSuchStage")


# --- movement limits


def test_check_positions_rejects_nan(sample: SimulatedSample) -> None:
    stage = FakeStage(sample=sample)

    with pytest.raises(MovementLimitError, match="NaN"):
        stage.check_positions([1.0, math.nan])


def test_check_positions_rejects_outside_limits(sample: SimulatedSample) -> None:
    stage = FakeStage("X", sample=sample, limits=(0.0, 100.0))

    with pytest.raises(MovementLimitError, match=r"X: position 150 mm is outside the limits"):
        stage.check_positions(np.array([0.0, 50.0, 150.0]))
    with pytest.raises(MovementLimitError, match="-1"):
        stage.check_positions([-1.0])
    stage.check_positions([0.0, 100.0])  # both ends are reachable


def test_check_positions_without_limits_only_rejects_nan(sample: SimulatedSample) -> None:
    stage = FakeStage(sample=sample, limits=None)

    stage.check_positions([-1e6, 1e6])
    with pytest.raises(MovementLimitError):
        stage.check_positions([math.nan])


# --- lifecycle


def test_connect_and_shutdown_track_status(sample: SimulatedSample) -> None:
    meter = FakeMultimeter(sample=sample)

    assert meter.status is False
    assert meter.connect() is True
    assert meter.check_connection() is True
    meter.initialize()
    meter.shutdown()
    assert meter.status is False


# --- VISA adapters


class _BareVisaMeter(VisaBaseMeasurementInstrument):
    """A minimal VISA measurement, to test the adapter handling of the base class."""

    def _perform_measurement_impl(self) -> np.ndarray:
        return np.zeros((1, 0))


def test_missing_visa_resource_is_an_adapter_error_that_lists_what_exists() -> None:
    with pytest.raises(AdapterError) as info:
        _BareVisaMeter("Ghost", adapter="GPIB0::99::INSTR", backend=SIM_BACKEND)

    message = str(info.value)
    assert message.startswith("Ghost: ")
    assert "'GPIB0::99::INSTR'" in message
    assert "GPIB0::24::INSTR" in message  # the available resources
    assert "GPIB0::8::INSTR" in message


def test_missing_visa_backend_is_an_adapter_error(tmp_path) -> None:
    backend = f"{tmp_path / 'absent.yaml'}@sim"

    with pytest.raises(AdapterError, match=r"absent\.yaml"):
        _BareVisaMeter("Ghost", adapter="GPIB0::24::INSTR", backend=backend)
