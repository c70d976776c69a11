"""Plot data for the scan page: downsampled lines that keep extremes, heatmaps of 2-D scans."""

from __future__ import annotations

import numpy as np
import pytest

from database_builders import iv_settings, map_settings, spectrum_settings
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from pybirch.web.downsample import grid, line_indices
from web_support import add_member, make_app


def test_line_downsampling_keeps_every_buckets_extremes():
    rng = np.random.default_rng(1)
    values = rng.normal(size=100_000)
    values[31_337] = 50.0
    values[77_001] = -40.0
    kept = line_indices(values, 2_000)
    assert kept.size <= 2_000
    assert np.all(np.diff(kept) > 0)
    assert {31_337, 77_001} <= set(kept.tolist())
    assert values[kept].max() == values.max()
    assert values[kept].min() == values.min()
    assert np.array_equal(line_indices(values[:500], 2_000), np.arange(500))


def test_grid_downsampling_averages_blocks_and_keeps_missing_cells_missing():
    values = np.arange(16.0).reshape(4, 4)
    values[3, 3] = np.nan
    small, factor = grid(values, max_cells=4)
    assert factor == 2
    assert small[0, 0] == np.mean([0, 1, 4, 5])
    assert small[1, 1] == np.mean([10, 11, 14])
    same, one = grid(values, max_cells=16)
    assert one == 1
    assert same is values


@pytest.fixture
def lab(db):
    return db.create_lab("Plot Lab")


@pytest.fixture
def client(db, lab):
    add_member(db, lab.id, "pia", Role.VIEWER)
    user = db.get_user_by_username("pia")
    token = db.create_api_token(user.id, "plots")[1]
    client = make_app(db).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def run(db, lab, settings) -> str:
    queue = DatabaseQueue("plots", db, lab_id=lab.id)
    handle = queue.enqueue(Scan(settings))
    queue.start()
    assert queue.wait_for_completion(timeout=60)
    queue.close()
    return handle.scan_id


def test_a_1d_scan_plots_as_a_line_of_its_values(db, lab, client):
    settings, meter = iv_settings(points=31)
    scan_id = run(db, lab, settings)
    plot = client.get(f"/api/v1/scans/{scan_id}/plot/Multimeter").json
    assert plot["kind"] == "line"
    assert plot["x_label"] == "Current Source current (A)"
    assert plot["y_label"] == "voltage (V)"
    assert np.array_equal(np.array(plot["y"]), meter.rows()[:, 0])
    assert plot["sent"] == plot["rows"] == 31
    by_index = client.get(f"/api/v1/scans/{scan_id}/plot/Multimeter?x=point_index").json
    assert by_index["x"] == list(range(31))
    assert client.get(f"/api/v1/scans/{scan_id}/plot/Multimeter?y=nope").status_code == 400


def test_a_2d_scan_plots_as_a_heatmap_over_its_two_axes(db, lab, client):
    xs, ys = np.linspace(0, 100, 6), np.linspace(0, 50, 4)
    settings, _ = map_settings(xs, ys)
    scan_id = run(db, lab, settings)
    plot = client.get(f"/api/v1/scans/{scan_id}/plot/Lock-in?y=X (V)").json
    assert plot["kind"] == "grid"
    assert plot["x"] == xs.tolist()
    assert plot["y"] == ys.tolist()
    z = np.array(plot["z"])
    assert z.shape == (4, 6)
    stored = db.read_scan_data(db.get_scan(scan_id).id).to_xarray()["X (V)"]
    assert np.array_equal(z, stored.transpose("y (mm)", "x (mm)").values)
    line = client.get(f"/api/v1/scans/{scan_id}/plot/Lock-in?kind=line").json
    assert line["kind"] == "line"
    assert line["rows"] == 24


def test_a_line_of_spectra_plots_one_points_spectrum(db, lab, client):
    positions = np.linspace(0, 10, 5)
    settings, _ = spectrum_settings(positions, pixels=32)
    scan_id = run(db, lab, settings)
    url = f"/api/v1/scans/{scan_id}/plot/Spectrometer"
    last = client.get(url).json
    assert last["kind"] == "spectrum"
    assert (last["point"], last["points"], last["rows"]) == (4, 5, 32)
    assert last["x_label"] == "wavelength (nm)"
    assert last["y_label"] == "intensity (counts)"
    assert list(last["position"].values()) == [10.0]
    stored = db.read_scan_data(db.get_scan(scan_id).id)
    second = client.get(f"{url}?point=1&y=intensity (counts)").json
    rows = stored.point_index == 1
    assert np.array_equal(second["y"], stored["intensity (counts)"][rows])
    assert np.array_equal(second["x"], stored["wavelength (nm)"][rows])
    assert client.get(f"{url}?point=5").status_code == 400
    assert client.get(f"{url}?kind=line").json["rows"] == 160


def test_the_scan_page_offers_the_plot_with_local_libraries_only(db, lab, client):
    settings, _ = iv_settings(points=5)
    scan_id = run(db, lab, settings)
    page = client.get(f"/scans/{scan_id}").get_data(as_text=True)
    assert 'id="scan-plot"' in page
    assert "/static/vendor/uPlot.iife.min.js" in page
    assert "http://" not in page
    assert "https://" not in page
    assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
    assert client.get("/static/scan_plot.js").status_code == 200
