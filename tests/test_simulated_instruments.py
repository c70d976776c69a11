"""Simulated instruments: one shared sample, so sweeps show physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pybirch.instruments import MovementLimitError
from pybirch.instruments.errors import InvalidSettingError
from pybirch.instruments.simulated import (
    FakeCurrentSource,
    FakeLockin,
    FakeMultimeter,
    FakePiezo,
    FakeSpectrometer,
    FakeStage,
    FakeTemperatureController,
    Peak,
    SimulatedSample,
    Spot,
    default_sample,
)
from pybirch.instruments.simulated import movement as movement_module
from pybirch.instruments.simulated.physics import K_B_OVER_Q


@pytest.fixture
def sample() -> SimulatedSample:
    """A private simulated world, so tests never see each other's moves."""
    return SimulatedSample()


def _expected_voltage(sample: SimulatedSample, current: float, temperature: float) -> float:
    """The I-V written out independently of the implementation."""
    resistance = sample.r0_ohm * (1 + sample.alpha_per_k * (temperature - 300.0))
    thermal = K_B_OVER_Q * temperature
    junction = sample.ideality * thermal * math.asinh(current / (2 * sample.saturation_current_a))
    return current * resistance + junction


# --- I-V


def test_multimeter_follows_the_iv_of_the_source_current(sample: SimulatedSample) -> None:
    source = FakeCurrentSource(sample=sample)
    meter = FakeMultimeter(sample=sample, noise=0.0)
    currents = np.linspace(-0.1, 0.1, 41)

    voltages = []
    for current in currents:
        source.position = current
        reading = meter.perform_measurement()
        assert reading.shape == (1, 1)
        voltages.append(reading[0, 0])

    expected = [_expected_voltage(sample, c, 300.0) for c in currents]
    np.testing.assert_allclose(voltages, expected, rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(voltages) > 0)  # a passive device: more current, more voltage
    assert voltages[20] == pytest.approx(0.0, abs=1e-15)


def test_iv_is_nonlinear(sample: SimulatedSample) -> None:
    small, large = 1e-6, 1e-2
    # the junction makes the differential resistance at low current much larger than R
    low_slope = sample.voltage(small) / small
    high_slope = sample.voltage(large) / large
    assert low_slope > 2 * high_slope
    assert high_slope > sample.r0_ohm


def test_physics_is_vectorised_and_agrees_with_scalars(sample: SimulatedSample) -> None:
    currents = np.linspace(-0.05, 0.05, 7)
    xs = np.linspace(0.0, 100.0, 5)
    ys = np.linspace(0.0, 100.0, 5)

    np.testing.assert_allclose(
        sample.voltage(currents), [sample.voltage(float(c)) for c in currents]
    )
    amplitude, phase = sample.lockin_signal(xs, ys, np.zeros(5))
    for i in range(5):
        a, p = sample.lockin_signal(float(xs[i]), float(ys[i]), 0.0)
        assert amplitude[i] == pytest.approx(a)
        assert phase[i] == pytest.approx(p)


def test_multimeter_can_report_the_current(sample: SimulatedSample) -> None:
    source = FakeCurrentSource(sample=sample)
    meter = FakeMultimeter(sample=sample, noise=0.0, include_current=True)

    source.position = 0.02
    reading = meter.perform_measurement()

    assert meter.columns() == ["voltage (V)", "current (A)"]
    assert reading.shape == (1, 2)
    assert reading[0, 1] == 0.02
    assert reading[0, 0] == pytest.approx(_expected_voltage(sample, 0.02, 300.0))

    meter.settings = {"include_current": False}
    assert meter.columns() == ["voltage (V)"]
    assert meter.perform_measurement().shape == (1, 1)


def test_temperature_changes_the_resistance(sample: SimulatedSample) -> None:
    source = FakeCurrentSource(sample=sample)
    cryostat = FakeTemperatureController(sample=sample)
    meter = FakeMultimeter(sample=sample, noise=0.0)
    source.position = 0.05

    readings = {}
    for temperature in (4.0, 100.0, 300.0, 400.0):
        cryostat.position = temperature
        assert sample.temperature == temperature
        readings[temperature] = meter.perform_measurement()[0, 0]

    for temperature, voltage in readings.items():
        assert voltage == pytest.approx(_expected_voltage(sample, 0.05, temperature))
    assert readings[4.0] < readings[100.0] < readings[300.0] < readings[400.0]
    assert sample.resistance(4.0) > 0


def test_current_source_shutdown_switches_the_output_off(sample: SimulatedSample) -> None:
    source = FakeCurrentSource(sample=sample)
    source.connect()
    source.position = 0.05

    source.shutdown()

    assert sample.current == 0.0
    assert source.position == 0.0
    assert source.status is False


# --- lock-in map


def _lockin_map(sample: SimulatedSample, lockin: FakeLockin, points: int = 13) -> np.ndarray:
    x_stage = FakeStage(axis="x", sample=sample)
    y_stage = FakeStage(axis="y", sample=sample)
    rows = []
    for x in np.linspace(0.0, 100.0, points):
        x_stage.position = x
        for y in np.linspace(0.0, 100.0, points):
            y_stage.position = y
            rows.append(lockin.perform_measurement()[0])
    return np.array(rows)


def test_lockin_map_has_structure(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample, noise=0.0)

    data = _lockin_map(sample, lockin)

    x, y, r, theta = data.T
    assert r.std() > 0.2 * r.mean()  # spots on a background, not a flat field
    assert theta.std() > 5.0  # the phase varies across the map
    np.testing.assert_allclose(r, np.hypot(x, y), rtol=1e-12)
    np.testing.assert_allclose(theta, np.degrees(np.arctan2(y, x)), atol=1e-9)


def test_lockin_is_brightest_on_a_spot(sample: SimulatedSample) -> None:
    sample.spots = (Spot(40.0, 60.0, 5.0, 1.0),)
    lockin = FakeLockin(sample=sample, noise=0.0)
    x_stage = FakeStage(axis="x", sample=sample)
    y_stage = FakeStage(axis="y", sample=sample)

    x_stage.position, y_stage.position = 40.0, 60.0
    on_spot = lockin.perform_measurement()[0, 2]
    x_stage.position, y_stage.position = 90.0, 10.0
    off_spot = lockin.perform_measurement()[0, 2]

    expected = sample.lockin_scale_v * sample.map_profile(40.0, 60.0)
    assert on_spot == pytest.approx(expected)
    assert on_spot > 5 * off_spot


def test_lockin_phase_setting_rotates_the_signal(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample, noise=0.0)
    before = lockin.perform_measurement()[0]

    lockin.settings = {"phase": 30.0}
    after = lockin.perform_measurement()[0]

    assert after[2] == pytest.approx(before[2])
    assert after[3] == pytest.approx(before[3] - 30.0)


def test_lockin_overloads_at_its_sensitivity(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample, noise=0.0, sensitivity=1e-5)
    FakeStage(axis="x", sample=sample).position = 25.0
    FakeStage(axis="y", sample=sample).position = 30.0

    x, y, r, _ = lockin.perform_measurement()[0]

    assert abs(x) <= 1e-5
    assert abs(y) <= 1e-5
    assert r == pytest.approx(math.hypot(x, y))
    assert r < sample.lockin_signal()[0]


def test_piezo_defocus_lowers_the_signal_and_writes_millimetres(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample, noise=0.0)
    piezo = FakePiezo(sample=sample)

    piezo.position = 0.0
    in_focus = lockin.perform_measurement()[0, 2]
    piezo.position = 50.0
    defocused = lockin.perform_measurement()[0, 2]

    assert sample.fine_offsets["z"] == pytest.approx(0.05)
    assert sample.position("z") == pytest.approx(0.05)
    assert defocused == pytest.approx(in_focus * sample.focus(0.05))
    assert defocused < 0.75 * in_focus


def test_piezo_adds_to_the_stage_on_the_same_axis(sample: SimulatedSample) -> None:
    FakeStage(axis="x", sample=sample).position = 10.0
    FakePiezo(axis="x", sample=sample).position = 25.0

    assert sample.position("x") == pytest.approx(10.025)


# --- spectrometer


def test_spectrometer_returns_a_whole_spectrum(sample: SimulatedSample) -> None:
    spectrometer = FakeSpectrometer(
        sample=sample, pixels=300, wavelength_start=500.0, wavelength_end=800.0
    )

    data = spectrometer.perform_measurement()

    assert data.shape == (300, 2)
    assert spectrometer.columns() == ["wavelength (nm)", "intensity (counts)"]
    assert data[0, 0] == 500.0
    assert data[-1, 0] == 800.0
    assert np.all(np.diff(data[:, 0]) > 0)
    assert np.all(data[:, 1] >= 0)


def test_spectrometer_peaks_sit_at_the_configured_centres(sample: SimulatedSample) -> None:
    peaks = [[550.0, 2.0, 30000.0], [650.0, 4.0, 20000.0]]
    spectrometer = FakeSpectrometer(
        sample=sample,
        pixels=1001,
        wavelength_start=500.0,
        wavelength_end=700.0,
        peaks=peaks,
        noise=0.0,
    )
    sample.positions.update(x=25.0, y=30.0)  # on a bright spot

    wavelengths, counts = spectrometer.perform_measurement().T

    for center, _, _ in peaks:
        window = np.abs(wavelengths - center) < 10.0
        assert wavelengths[window][np.argmax(counts[window])] == pytest.approx(center, abs=0.2)
    # no other line: the sample's own 610 nm line is replaced
    near_610 = np.abs(wavelengths - 610.0) < 1.0
    assert counts[near_610].max() < counts.max() / 10


def test_spectrometer_uses_the_sample_lines_by_default(sample: SimulatedSample) -> None:
    sample.peaks = (Peak(600.0, 3.0, 10000.0),)
    spectrometer = FakeSpectrometer(sample=sample, noise=0.0)

    wavelengths, counts = spectrometer.perform_measurement().T

    assert wavelengths[np.argmax(counts)] == pytest.approx(600.0, abs=0.5)


def test_temperature_shifts_the_lines(sample: SimulatedSample) -> None:
    sample.thermal_shift_nm_per_k = 0.05
    spectrometer = FakeSpectrometer(
        sample=sample,
        pixels=4001,
        wavelength_start=520.0,
        wavelength_end=540.0,
        peaks=[[530.0, 1.0, 50000.0]],
        noise=0.0,
    )
    cryostat = FakeTemperatureController(sample=sample)

    centres = {}
    for temperature in (100.0, 300.0):
        cryostat.position = temperature
        wavelengths, counts = spectrometer.perform_measurement().T
        centres[temperature] = wavelengths[np.argmax(counts)]

    assert centres[300.0] == pytest.approx(530.0, abs=0.01)
    assert centres[100.0] == pytest.approx(530.0 - 0.05 * 200.0, abs=0.01)


def test_spectrum_follows_the_map_and_the_integration_time(sample: SimulatedSample) -> None:
    spectrometer = FakeSpectrometer(sample=sample, noise=0.0)
    x_stage = FakeStage(axis="x", sample=sample)
    y_stage = FakeStage(axis="y", sample=sample)

    x_stage.position, y_stage.position = 25.0, 30.0
    bright = spectrometer.perform_measurement()[:, 1].max()
    x_stage.position, y_stage.position = 95.0, 95.0
    dim = spectrometer.perform_measurement()[:, 1].max()
    spectrometer.settings = {"integration_time": 0.2}
    dim_longer = spectrometer.perform_measurement()[:, 1].max()

    assert bright > 3 * dim
    dark = spectrometer.get_setting("dark_counts")
    assert dim_longer - dark == pytest.approx(2 * (dim - dark))


def test_spectrometer_saturates(sample: SimulatedSample) -> None:
    spectrometer = FakeSpectrometer(sample=sample, noise=0.0, integration_time=100.0)

    counts = spectrometer.perform_measurement()[:, 1]

    assert counts.max() == 65535.0


def test_spectrometer_range_must_increase(sample: SimulatedSample) -> None:
    spectrometer = FakeSpectrometer(sample=sample)
    before = spectrometer.settings

    with pytest.raises(InvalidSettingError, match="wavelength_start"):
        spectrometer.settings = {"pixels": 10, "wavelength_start": 900.0}
    with pytest.raises(InvalidSettingError, match="peaks"):
        spectrometer.settings = {"peaks": [[500.0, -1.0, 10.0]]}

    assert spectrometer.settings == before


def test_spectrometer_grid_follows_the_settings(sample: SimulatedSample) -> None:
    spectrometer = FakeSpectrometer(sample=sample, pixels=10)
    first = spectrometer.perform_measurement()

    spectrometer.settings = {"pixels": 20, "wavelength_end": 500.0}
    second = spectrometer.perform_measurement()

    assert first.shape == (10, 2)
    assert second.shape == (20, 2)
    assert second[-1, 0] == 500.0


# --- movements: limits and travel


@pytest.mark.parametrize(
    ("movement_class", "outside"),
    [
        (FakeStage, 100.5),
        (FakePiezo, -1.0),
        (FakeCurrentSource, 0.2),
        (FakeTemperatureController, 1.0),
    ],
)
def test_moving_outside_the_limits_raises_and_changes_nothing(
    sample: SimulatedSample, movement_class: type, outside: float
) -> None:
    movement = movement_class("Mover", sample=sample)
    snapshot = (
        dict(sample.positions),
        dict(sample.fine_offsets),
        sample.current,
        sample.temperature,
    )
    before = movement.position

    with pytest.raises(MovementLimitError, match=r"Mover: cannot move to .*outside the limits"):
        movement.position = outside
    with pytest.raises(MovementLimitError, match="nan"):
        movement.position = math.nan

    assert movement.position == before
    after = (dict(sample.positions), dict(sample.fine_offsets), sample.current, sample.temperature)
    assert after == snapshot


def test_stage_limit_message_names_the_units(sample: SimulatedSample) -> None:
    stage = FakeStage("X", sample=sample, limits=(0.0, 50.0))

    with pytest.raises(MovementLimitError) as info:
        stage.position = 60.0

    assert str(info.value) == "X: cannot move to 60 mm: outside the limits [0, 50] mm"


def test_limits_are_configurable(sample: SimulatedSample) -> None:
    stage = FakeStage(sample=sample, limits=(-200.0, 200.0))

    stage.position = -150.0

    assert sample.positions["x"] == -150.0


def test_stage_waits_for_the_travel_time(sample: SimulatedSample, monkeypatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(movement_module.time, "sleep", sleeps.append)
    stage = FakeStage(sample=sample, speed=5.0, delay=0.5)

    stage.position = 10.0
    stage.position = 4.0

    assert sleeps == [pytest.approx(0.5 + 10.0 / 5.0), pytest.approx(0.5 + 6.0 / 5.0)]


def test_zero_delay_and_zero_noise_never_sleep_or_draw(
    sample: SimulatedSample, monkeypatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the zero-delay, zero-noise path must not sleep or draw")

    monkeypatch.setattr("time.sleep", forbidden)
    instruments = [
        FakeMultimeter(sample=sample, noise=0.0),
        FakeLockin(sample=sample, noise=0.0),
        FakeSpectrometer(sample=sample, noise=0.0),
    ]
    movements = [
        FakeStage(sample=sample),
        FakePiezo(sample=sample),
        FakeCurrentSource(sample=sample),
    ]
    for instrument in (*instruments, *movements):
        instrument.rng = None  # any draw would fail

    for movement in movements:
        movement.position = 1e-3
    for instrument in instruments:
        instrument.perform_measurement()


# --- noise


def test_noise_is_reproducible_with_the_seed(sample: SimulatedSample) -> None:
    def series(seed: int) -> np.ndarray:
        meter = FakeMultimeter(sample=sample, noise=1e-3, seed=seed)
        return np.array([meter.perform_measurement()[0, 0] for _ in range(200)])

    first, again, other = series(7), series(7), series(8)
    clean = sample.voltage()

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.std(first - clean) == pytest.approx(1e-3, rel=0.2)
    assert np.mean(first - clean) == pytest.approx(0.0, abs=3e-4)


def test_lockin_noise_keeps_r_consistent(sample: SimulatedSample) -> None:
    lockin = FakeLockin(sample=sample, noise=1e-4, seed=3)

    data = np.array([lockin.perform_measurement()[0] for _ in range(50)])

    assert data[:, 0].std() > 0
    np.testing.assert_allclose(data[:, 2], np.hypot(data[:, 0], data[:, 1]))


def test_temperature_noise_is_where_the_sample_settles(sample: SimulatedSample) -> None:
    cryostat = FakeTemperatureController(sample=sample, noise=0.1, seed=1)

    cryostat.position = 77.0

    assert sample.temperature != 77.0
    assert sample.temperature == pytest.approx(77.0, abs=1.0)
    assert cryostat.position == sample.temperature


# --- shared and private samples


def test_instruments_without_a_sample_share_the_default_one() -> None:
    shared = default_sample()
    before = shared.current
    source = FakeCurrentSource()
    meter = FakeMultimeter(noise=0.0)
    try:
        assert source.sample is shared
        assert meter.sample is shared
        assert default_sample() is shared
        source.position = 0.01
        assert meter.perform_measurement()[0, 0] == pytest.approx(shared.voltage(0.01))
    finally:
        shared.current = before


def test_an_explicit_sample_is_isolated(sample: SimulatedSample) -> None:
    shared = default_sample()
    before = (dict(shared.positions), shared.current, shared.temperature)

    FakeStage(sample=sample).position = 42.0
    FakeCurrentSource(sample=sample).position = 0.03
    FakeTemperatureController(sample=sample).position = 10.0

    assert (sample.positions["x"], sample.current, sample.temperature) == (42.0, 0.03, 10.0)
    assert (dict(shared.positions), shared.current, shared.temperature) == before
    other = SimulatedSample()
    assert FakeMultimeter(sample=other, noise=0.0).perform_measurement()[0, 0] == 0.0


def test_sample_reset_keeps_the_physics(sample: SimulatedSample) -> None:
    sample.r0_ohm = 50.0
    FakeStage(sample=sample).position = 5.0
    FakeCurrentSource(sample=sample).position = 0.01
    FakeTemperatureController(sample=sample).position = 20.0

    sample.reset()

    assert sample.positions == {}
    assert sample.current == 0.0
    assert sample.temperature == 300.0
    assert sample.r0_ohm == 50.0


def test_a_new_stage_starts_where_the_sample_is(sample: SimulatedSample, monkeypatch) -> None:
    sample.positions["x"] = 30.0
    sleeps: list[float] = []
    monkeypatch.setattr(movement_module.time, "sleep", sleeps.append)
    stage = FakeStage(sample=sample, speed=10.0)

    stage.position = 40.0

    assert sleeps == [pytest.approx(1.0)]
