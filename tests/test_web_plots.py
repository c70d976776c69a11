"""Plot data for the scan page: downsampled lines that keep extremes, heatmaps of 2-D scans."""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import plot_data
import plot_reference as reference
from database_builders import iv_settings, map_settings, spectrum_settings
from pybirch.database import Layout
from pybirch.database.models import Role
from pybirch.database.storage import ChunkData
from pybirch.database_integration import DatabaseQueue
from pybirch.scan import Scan
from pybirch.web.api import plots
from pybirch.web.downsample import GridBlocks, LineBuckets
from web_support import add_member, make_app


def feed_in_chunks(line: LineBuckets, values: np.ndarray, sizes: list[int]) -> None:
    """Give ``line`` the points ``values`` (x = their index) in chunks of ``sizes``."""
    edges = np.cumsum([0, *sizes])
    for a, b in itertools.pairwise(edges):
        line.add(np.arange(a, b, dtype=np.float64), values[a:b])


def test_line_downsampling_keeps_every_buckets_extremes():
    rng = np.random.default_rng(1)
    values = rng.normal(size=100_000)
    values[31_337] = 50.0
    values[77_001] = -40.0
    line = LineBuckets(len(values), 2_000)
    feed_in_chunks(line, values, [40_000, 1, 59_999])
    x, y = line.result()
    assert y.size <= 2_000
    assert np.all(np.diff(x) > 0)
    assert {31_337, 77_001} <= set(x.tolist())
    assert y.max() == values.max()
    assert y.min() == values.min()
    small = LineBuckets(500, 2_000)
    feed_in_chunks(small, values[:500], [200, 300])
    assert np.array_equal(small.result()[1], values[:500])


@pytest.mark.parametrize("count", [1_001, 7_919, 100_000])
def test_a_line_fed_chunk_by_chunk_equals_the_whole_array_method(count):
    rng = np.random.default_rng(count)
    values = rng.normal(size=count)
    values[rng.integers(0, count, count // 10)] = np.nan  # missing readings
    values[rng.integers(0, count, 5)] = np.inf
    values[: count // 50] = np.nan  # a whole bucket without a finite value
    values[count // 3 : count // 3 + 40] = 2.5  # ties: the first point wins
    sizes = rng.integers(1, count // 7, size=count).cumsum()
    sizes = np.diff(np.r_[0, sizes[sizes < count], count]).tolist()
    line = LineBuckets(count, 1_000)
    feed_in_chunks(line, values, sizes)
    x, y = line.result()
    kept = reference.line_indices(values, 1_000)
    np.testing.assert_array_equal(x, kept)
    np.testing.assert_array_equal(y, values[kept])


def test_grid_downsampling_averages_blocks_and_keeps_missing_cells_missing():
    values = np.arange(16.0).reshape(4, 4)
    values[3, 3] = np.nan
    for max_cells, factor in ((4, 2), (16, 1)):
        blocks = GridBlocks(4, 4, max_cells)
        rows, columns = np.divmod(np.random.default_rng(0).permutation(16), 4)
        blocks.add(rows, columns, values[rows, columns])  # cells in any order
        expected, expected_factor = reference.grid(values, max_cells)
        assert blocks.factor == expected_factor == factor
        np.testing.assert_array_equal(blocks.result(), expected)
    assert expected[3, 3] != expected[3, 3]  # NaN: never measured


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
    assert "/static/vendor/plotly.min.js" in page
    assert "http://" not in page
    assert "https://" not in page
    for script in ("scan_plot.js", "plot_format.js", "plot_line.js", "plot_map.js", "plots.css"):
        assert client.get(f"/static/{script}").status_code == 200


def test_the_page_names_the_style_plotly_would_inject_by_the_installed_bundles_id():
    """plotly's maplibre part injects a <style> unless an element has its id (CSP: refused)."""
    static = Path(plots.__file__).parent.parent / "static" / "vendor"
    if not (static / "plotly-maplibre.css").exists():
        pytest.skip("the browser libraries are not installed (scripts/bootstrap.sh)")
    header = (static / "plotly-maplibre.css").read_text().splitlines()[0]
    template = Path(plots.__file__).parent.parent / "templates" / "_scan_plot_head.html"
    assert f'id="{header.split("id ")[1].split()[0]}"' in template.read_text()


def store_map(db, lab, xs, ys, values, chunk):
    """A 2-D scan written straight into storage (see plot_data.store_map)."""
    return plot_data.store_map(db, lab.id, xs, ys, values, chunk)


def test_a_streamed_heatmap_and_line_equal_the_whole_array_method(db, lab, client, monkeypatch):
    xs, ys = np.linspace(0, 1, 23), np.linspace(-5, 5, 17)
    rng = np.random.default_rng(7)
    values = rng.integers(-400, 400, size=len(xs) * len(ys) - 30) / 4  # sums are exact
    values[rng.integers(0, len(values), 20)] = np.nan
    scan, measurement = store_map(db, lab, xs, ys, values, chunk=37)
    url = f"/api/v1/scans/{scan.scan_id}/plot/Lock-in"
    for max_cells in (1_000, 60, 7):  # blocks of 1, 3 and 7 cells a side
        monkeypatch.setattr(plots, "MAX_CELLS", max_cells)
        plot = client.get(url).json
        x, y, z = reference.whole_heatmap(
            db, measurement.id, "signal (V)", ["y (mm)", "x (mm)"], max_cells
        )
        # A block is drawn at the mean of its cells' positions (summed in another order).
        np.testing.assert_allclose(plot["x"], x, rtol=1e-12)
        np.testing.assert_allclose(plot["y"], y, rtol=1e-12)
        np.testing.assert_array_equal(np.array(plot["z"], dtype=float), z)
        assert plot["rows"] == len(values)
    line = client.get(f"{url}?kind=line&max_points=40").json
    x, y = reference.whole_line(db, measurement.id, "x (mm)", "signal (V)", 40)
    np.testing.assert_array_equal(np.array(line["x"], dtype=float), x)
    np.testing.assert_array_equal(np.array(line["y"], dtype=float), y)


def test_a_position_measured_twice_is_not_a_grid(db, lab, client):
    scan, measurement = store_map(db, lab, np.arange(3.0), np.arange(2.0), np.ones(6), 6)
    layout = Layout.from_json(measurement.columns)
    again = [np.ones(1), np.zeros(1), np.zeros(1), np.ones(1)]
    assert len(again) == len(layout.columns)
    db.write_rows(measurement.id, ChunkData(6, 6, again, 1, 1))
    response = client.get(f"/api/v1/scans/{scan.scan_id}/plot/Lock-in")
    assert response.status_code == 400
    assert "more than once" in response.json["error"]["message"]


@pytest.mark.slow
def test_plots_of_millions_of_points_hold_about_a_chunk_in_memory(db, lab, client, monkeypatch):
    xs, ys = np.linspace(0, 1, 2_000), np.linspace(0, 1, 1_000)
    chunk = 50_000
    values = np.random.default_rng(3).normal(size=len(xs) * len(ys))
    scan, _ = store_map(db, lab, xs, ys, values, chunk)
    scan_bytes = values.nbytes * 4  # the value, two positions and the timestamp
    chunk_bytes = chunk * 8 * 4
    monkeypatch.setattr(plots, "MAX_CELLS", 10_000)  # a small answer: memory is the reading
    url = f"/api/v1/scans/{scan.scan_id}/plot/Lock-in"
    for query in ("", "?kind=line"):
        tracemalloc.start()
        try:
            response = client.get(url + query)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert response.status_code == 200
        assert response.json["rows"] == len(values)
        assert peak < 8 * chunk_bytes, (query, peak)
        assert peak < scan_bytes / 5, (query, peak)


def test_a_map_is_laid_out_on_its_planned_grid_before_it_is_measured(db, lab, client):
    xs, ys = np.array([0.0, 20, 40, 60, 80, 100]), np.linspace(0, 50, 4)
    values = np.arange(9.0)  # 9 of 24 points: one row and a half
    scan, _ = plot_data.store_map(db, lab.id, xs, ys, values, chunk=4, planned=True)
    plot = client.get(f"/api/v1/scans/{scan.scan_id}/plot/Lock-in").json
    assert plot["planned"] is True
    assert plot["cells"] == [4, 6]
    assert plot["x"] == xs.tolist()
    assert plot["y"] == ys.tolist()
    assert plot["extent"] == {"x (mm)": [0.0, 100.0], "y (mm)": [0.0, 50.0]}
    nan = None
    assert plot["z"] == [
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        [6.0, 7.0, 8.0, nan, nan, nan],
        [nan] * 6,
        [nan] * 6,
    ]
    assert plot["rows"] == 9
    # A scan without its tree is laid out on the positions measured so far.
    scan, _ = plot_data.store_map(db, lab.id, xs, ys, values, chunk=4)
    plot = client.get(f"/api/v1/scans/{scan.scan_id}/plot/Lock-in").json
    assert (plot["planned"], plot["cells"], plot["y"]) == (False, [2, 6], ys[:2].tolist())


def test_a_zoomed_map_gets_the_cells_of_its_window_and_one_more_each_side(db, lab, client):
    xs, ys = np.arange(10.0), np.arange(8.0) * 2
    values = np.arange(80.0)
    scan, _ = plot_data.store_map(db, lab.id, xs, ys, values, chunk=32, planned=True)
    url = f"/api/v1/scans/{scan.scan_id}/plot/Lock-in"
    plot = client.get(f"{url}?x_min=3.5&x_max=5.5&y_min=4&y_max=6").json
    assert plot["x"] == [3.0, 4.0, 5.0, 6.0]  # 4 and 5 inside, 3 and 6 at the edges
    assert plot["y"] == [2.0, 4.0, 6.0, 8.0]
    assert plot["z"] == [[10.0 * r + c for c in range(3, 7)] for r in range(1, 5)]
    assert plot["cells"] == [8, 10]  # the whole grid's size, for the page's note
    blocks = client.get(f"{url}?max_cells=20").json  # 2 x 2 blocks: 4 x 5 of them
    assert blocks["block"] == 2
    assert blocks["x"] == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert blocks["z"][0][0] == np.mean([0, 1, 10, 11])
    for bad in ("x_min=abc", "x_min=nan", "x_min=3&x_max=1", "max_cells=3"):
        assert client.get(f"{url}?{bad}").status_code == 400, bad


def test_a_zoomed_line_gets_the_points_of_its_window_downsampled_to_the_width(db, lab, client):
    xs = np.linspace(0, 99, 100)
    scan, _ = plot_data.store_line(db, lab.id, xs, xs**2, chunk=30, name="line")
    url = f"/api/v1/scans/{scan.scan_id}/plot/Meter"
    plot = client.get(f"{url}?x_min=10&x_max=19.5").json
    assert plot["x"] == list(range(10, 20))
    assert plot["y"] == [float(x * x) for x in range(10, 20)]
    assert (plot["rows"], plot["in_window"], plot["sent"]) == (100, 10, 10)
    wide = client.get(f"{url}?x_min=0&x_max=59&max_points=10").json
    assert wide["in_window"] == 60
    assert wide["x"] == [0.0, 11.0, 12.0, 23.0, 24.0, 35.0, 36.0, 47.0, 48.0, 59.0]


def test_a_plot_offers_its_samples_other_scans_to_overlay_and_never_another_labs(db, lab, client):
    sample = db.create_sample("S-1", lab_id=lab.id)
    other_sample = db.create_sample("S-2", lab_id=lab.id)
    xs = np.arange(3.0)
    scans = {}
    for name, sample_id in (("now", sample.id), ("before", sample.id), ("else", other_sample.id)):
        scans[name], _ = plot_data.store_line(db, lab.id, xs, xs, 3, name)
        db.update_scan(scans[name].id, sample_id=sample_id)
    loose, _ = plot_data.store_line(db, lab.id, xs, xs, 3, "loose")
    elsewhere = db.create_lab("Other Lab")
    plot_data.store_line(db, elsewhere.id, xs, xs, 3, "secret")

    offered = client.get(f"/api/v1/scans/{scans['now'].scan_id}/overlays").json
    assert offered["sample"] is True
    assert [(s["scan_name"], s["measurements"]) for s in offered["scans"]] == [
        ("before", ["Meter"])
    ]
    without = client.get(f"/api/v1/scans/{loose.scan_id}/overlays").json
    assert without["sample"] is False
    assert {s["scan_name"] for s in without["scans"]} == {"now", "before", "else"}
