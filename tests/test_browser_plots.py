"""Plots a physicist trusts, in a real browser: SI ticks, readouts, log axes, overlays,
export, maps with colour bars and line cuts, a live map, and big plots' timings.

The timings (time to first draw, time to redraw after a zoom) are measured in the page with
``performance.now()`` and printed (``pytest -s`` shows them); tests never assert on them.
"""

from __future__ import annotations

import numpy as np
import pytest

from browser_support import ARTIFACTS, chromium, logged_in, require_chromium, running_server
from database_builders import map_settings
from plot_data import store_line, store_map
from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
from pybirch.instruments.simulated import FakeCurrentSource, FakeMultimeter, SimulatedSample
from pybirch.scan import MeasurementItem, MovementItem, Scan, ScanSettings, ScanTree
from pybirch.web.first_run import ensure_first_admin

ADMIN_PASSWORD = "plots admin password"
MINUS, MU, MICRO, TIMES = "\u2212", "\u03bc", "\u00b5", "\u00d7"
BIG = 1_000  # a BIG x BIG map and a BIG**2-point line


def microamp_sweep(name: str, resistance_noise: float) -> ScanSettings:
    """A current sweep of -1 µA to 1 µA, the meter reading voltage and current."""
    device = SimulatedSample()
    source = FakeCurrentSource("Current Source", sample=device)
    meter = FakeMultimeter(
        "Multimeter", sample=device, include_current=True, noise=resistance_noise
    )
    currents = np.linspace(-1e-6, 1e-6, 41)
    tree = ScanTree([MovementItem(source, currents, children=[MeasurementItem(meter)])])
    return ScanSettings("Graphene", name, "1D Scan", "Transport", scan_tree=tree)


@pytest.fixture(scope="module")
def lab_data(tmp_path_factory):
    """Two µA sweeps of one sample, a 21 x 13 map, a 1000 x 1000 map and a 1,000,000-point line."""
    require_chromium()
    folder = tmp_path_factory.mktemp("plots-lab")
    with DatabaseService(folder / "pybirch.db") as db:
        first = ensure_first_admin(db, ADMIN_PASSWORD)
        lab = db.get_lab_by_name(first.lab_name)
        sample = db.create_sample("G-17", lab_id=lab.id, material="graphene")
        queue = DatabaseQueue("bench", db, lab_id=lab.id, operator="admin")
        handles = [
            queue.enqueue(Scan(microamp_sweep("Earlier sweep", 2e-7))),
            queue.enqueue(Scan(microamp_sweep("µA sweep", 1e-7))),
            queue.enqueue(Scan(map_settings(np.linspace(0, 100, 21), np.linspace(0, 60, 13))[0])),
        ]
        queue.start()
        assert queue.wait_for_completion(timeout=120)
        queue.close()
        for handle in handles[:2]:
            db.update_scan(db.get_scan(handle.scan_id).id, sample_id=sample.id)
        axis = np.linspace(0.0, 10.0, BIG)
        rings = np.cos(np.hypot(*np.meshgrid(axis - 5, axis - 5, indexing="ij")) * 4) * 1e-6
        big_map, _ = store_map(db, lab.id, axis, axis, rings.ravel(), 50_000, "Big map")
        bias = np.linspace(-1.0, 1.0, BIG * BIG)
        noise = np.random.default_rng(5).normal(scale=2e-5, size=bias.size)
        signal = 1e-3 * np.sin(12 * bias) + noise
        signal[123_456] = 5e-3  # a spike the downsampling must keep
        big_line, _ = store_line(db, lab.id, bias, signal, 100_000, "Long line")
    ids = {
        "earlier": handles[0].scan_id,
        "sweep": handles[1].scan_id,
        "map": handles[2].scan_id,
        "big_map": big_map.scan_id,
        "big_line": big_line.scan_id,
    }
    return folder, ids


@pytest.fixture(scope="module")
def server(lab_data):
    # The demo's live queue (a 41 x 41 map) gives the live-map test something to start.
    with running_server(lab_data[0], ADMIN_PASSWORD, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        page = logged_in(browser, server, "admin", ADMIN_PASSWORD)
        page.console_errors = []
        page.on(
            "console",
            lambda message: message.type == "error" and page.console_errors.append(message.text),
        )
        yield page


def open_plot(page, url: str) -> None:
    """Open a scan page and wait until its plot is drawn."""
    page.goto(url)
    page.wait_for_function("() => window.pybirchPlot && window.pybirchPlot.stats().draws > 0")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#scan-plot").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def plot_state(page, selector: str, expression: str):
    """``expression`` of the plotly div ``selector`` (as ``div``)."""
    return page.evaluate(
        f"() => {{ const div = document.querySelector({selector!r}); return {expression}; }}"
    )


def hover(page, selector: str, fx: float, fy: float) -> None:
    """Move the mouse to a fraction (``fx``, ``fy`` from the top left) of a plot's data area."""
    area = page.locator(f"{selector} .nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def hover_point(page, selector: str, index: int) -> None:
    """Move the mouse onto point ``index`` of the first line of a plot."""
    page.locator(selector).scroll_into_view_if_needed()
    x, y = page.evaluate(
        """([selector, index]) => {
            const div = document.querySelector(selector), layout = div._fullLayout;
            const box = div.getBoundingClientRect(), trace = div.data[0];
            return [box.left + layout.xaxis._offset + layout.xaxis.l2p(trace.x[index]),
                    box.top + layout.yaxis._offset + layout.yaxis.l2p(trace.y[index])];
        }""",
        [selector, index],
    )
    page.mouse.move(x, y)


def test_a_microamp_sweep_reads_in_microamps_with_readout_log_axis_and_overlay(
    page, server, lab_data
):
    _, ids = lab_data
    open_plot(page, f"{server}/scans/{ids['sweep']}")
    ticks = page.locator(".plot-line .xtick text").all_text_contents()
    # Ticks in µA (plotly writes the Greek mu, d3's hover labels the micro sign).
    micro = [
        MINUS + "1" + MU + "A",
        MINUS + "0.5" + MU + "A",
        "0A",
        "0.5" + MU + "A",
        "1" + MU + "A",
    ]
    assert [t.replace(MICRO, MU) for t in ticks] == micro  # never a row of zeros
    title = plot_state(page, ".plot-line", "div.layout.xaxis.title.text")
    assert title == "Current Source current (A)"

    hover_point(page, ".plot-line", 30)
    readout = page.locator(".plot-readout")
    readout.filter(has_text="current =").wait_for()
    text = readout.inner_text()
    assert "nA" in text or f"{MICRO}A" in text, text
    assert "V" in text.split("·")[1], text

    page.check("input[name=logy]")
    page.wait_for_function("() => document.querySelector('.plot-line').layout.yaxis.type === 'log'")
    page.uncheck("input[name=logy]")
    page.wait_for_function(
        "() => document.querySelector('.plot-line').layout.yaxis.type === 'linear'"
    )

    compare = page.locator("select[name=compare]")
    compare.locator("option", has_text="Earlier sweep").wait_for(state="attached")
    assert compare.locator("option", has_text="this sample").count() == 1
    value = compare.locator("option", has_text="Earlier sweep").get_attribute("value")
    compare.select_option(value)
    page.wait_for_function("() => document.querySelector('.plot-line').data.length === 2")
    legend = "div.data.slice().sort((a, b) => a.legendrank - b.legendrank).map((t) => t.name)"
    names = plot_state(page, ".plot-line", legend)
    assert names == ["voltage (this scan)", "Earlier sweep"]
    assert page.locator(".plot-overlays li", has_text="Earlier sweep").is_visible()
    hover_point(page, ".plot-line", 28)
    shot(page, "plot-line")
    # plotly under the site's CSP: its styles come from a file, nothing is refused.
    assert page.console_errors == []


def test_the_figure_downloads_as_png_and_svg(page, server, lab_data):
    _, ids = lab_data
    open_plot(page, f"{server}/scans/{ids['sweep']}")
    for button, magic in (("PNG", b"\x89PNG"), ("SVG", b"<svg")):
        with page.expect_download() as download:
            page.click(f".plot-toolbar button:has-text('{button}')")
        path = download.value.path()
        assert download.value.suggested_filename.endswith(f".{button.lower()}")
        with open(path, "rb") as picture:
            head = picture.read(200)
        assert magic in head, head[:40]


def test_a_map_has_real_axes_a_colour_bar_y_upwards_hover_and_line_cuts(page, server, lab_data):
    _, ids = lab_data
    open_plot(page, f"{server}/scans/{ids['map']}")
    assert page.locator(".plot-map .colorbar").count() == 1
    layout = plot_state(
        page,
        ".plot-map",
        "({x: div._fullLayout.xaxis.range, y: div._fullLayout.yaxis.range,"
        " xPixels: div._fullLayout.xaxis._length, yPixels: div._fullLayout.yaxis._length,"
        " xTitle: div.layout.xaxis.title.text, yTitle: div.layout.yaxis.title.text})",
    )
    assert (layout["xTitle"], layout["yTitle"]) == ("x (mm)", "y (mm)")
    assert layout["y"][0] < layout["y"][1]  # y upwards
    assert layout["x"][0] < 0 < 100 < layout["x"][1]  # whole cells at the edges
    mm_across = layout["xPixels"] / (layout["x"][1] - layout["x"][0])
    mm_up = layout["yPixels"] / (layout["y"][1] - layout["y"][0])
    assert mm_across == pytest.approx(mm_up, rel=0.02)  # 1 mm is as long both ways
    y_ticks = [
        float(t.replace(MINUS, "-").removesuffix("mm"))
        for t in page.locator(".plot-map .ytick text").all_text_contents()
    ]
    assert y_ticks == sorted(y_ticks)
    bottom_tick = page.locator(".plot-map .ytick").first.bounding_box()["y"]
    top_tick = page.locator(".plot-map .ytick").last.bounding_box()["y"]
    assert top_tick < bottom_tick  # the largest y is drawn at the top

    hover(page, ".plot-map", 0.25, 0.25)  # upper left: small x, large y
    readout = page.locator(".plot-readout")
    readout.filter(has_text="X =").wait_for()
    assert "mm" in readout.inner_text()
    assert "V" in readout.inner_text()
    cuts = page.evaluate("() => window.pybirchPlot.view().cut()")
    assert (len(cuts["x"]), len(cuts["y"])) == (21, 13)
    cut_title = plot_state(page, ".plot-cut-x", "div.layout.title.text")
    assert cut_title.startswith("cut at y = ")
    assert cut_title.endswith("mm")
    assert float(cut_title.split("= ")[1].removesuffix(" mm")) > 30
    page.locator(".plot-map .nsewdrag").first.click(position={"x": 20, "y": 20})
    pinned = page.evaluate("() => window.pybirchPlot.view().cut().pinned")
    assert pinned is not None
    hover(page, ".plot-map", 0.8, 0.8)
    assert page.evaluate("() => window.pybirchPlot.view().cut().pinned") == pinned

    page.select_option("select[name=colormap]", "magma")
    page.wait_for_function(
        "() => JSON.stringify(document.querySelector('.plot-map').data[0].colorscale)"
        ".includes('#fcfdbf')"
    )
    page.fill("input[name=zmax]", "0.001")
    page.dispatch_event("input[name=zmax]", "change")
    page.wait_for_function("() => document.querySelector('.plot-map').data[0].zmax === 0.001")
    page.fill("input[name=zmax]", "")
    page.dispatch_event("input[name=zmax]", "change")
    page.check("input[name=logy]")  # the map's log colour scale
    page.wait_for_function("() => document.querySelector('.plot-map').data[0].colorbar.tickvals")
    page.uncheck("input[name=logy]")
    page.select_option("select[name=colormap]", "viridis")
    page.wait_for_function("() => !document.querySelector('.plot-map').data[0].colorbar.tickvals")
    hover(page, ".plot-map", 0.3, 0.3)
    shot(page, "plot-map")


def timing(page, url: str, zoom: dict) -> tuple[float, float]:
    """Milliseconds from navigation to the first draw, and from a zoom to its redraw."""
    open_plot(page, url)
    first = page.evaluate("() => window.pybirchPlot.stats().firstDraw")
    redraw = page.evaluate(
        "async (range) => { const t0 = performance.now(); await window.pybirchPlot.zoom(range);"
        " return performance.now() - t0; }",
        zoom,
    )
    return first, redraw


def test_a_thousand_by_thousand_map_and_a_million_point_line_stay_responsive(
    page, server, lab_data
):
    _, ids = lab_data
    first, redraw = timing(
        page, f"{server}/scans/{ids['big_map']}", {"x": [2.0, 3.0], "y": [4.0, 5.0]}
    )
    print(
        f"\n1,000 x 1,000 map: first draw {first:.0f} ms after navigation, "
        f"redraw after zoom {redraw:.0f} ms"
    )
    requests = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter((e) => e.name.includes('/plot/')).map((e) => Math.round(e.duration))"
    )
    print(f"  the map's requests took {requests} ms (first draw, zoom)")
    note = page.locator(".plot-note").inner_text()
    assert f"1,000,000 points of a 1,000 {TIMES} 1,000 grid" in note
    assert "zoomed" in note
    assert "block" not in note  # a zoomed window is sent cell by cell
    shown = plot_state(page, ".plot-map", "[div.data[0].x.length, div.data[0].z.length]")
    # About 1 mm each way (a cell is 0.01 mm), widened to what the equal scale shows
    assert 100 <= shown[0] < 300
    assert 100 <= shown[1] < 300
    page.locator("#scan-plot").screenshot(path=str(ARTIFACTS / "plot-map-big-zoomed.png"))

    first, redraw = timing(page, f"{server}/scans/{ids['big_line']}", {"x": [-0.76, -0.74]})
    print(
        f"1,000,000-point line: first draw {first:.0f} ms after navigation, "
        f"redraw after zoom {redraw:.0f} ms"
    )
    assert page.locator(".plot-note").inner_text().startswith("1,000,000 points, 10,000 in view")
    sent = plot_state(page, ".plot-line", "div.data[0].x.length")
    assert sent <= 4_000


def test_a_live_map_is_laid_out_whole_and_fills_as_points_arrive(page, server):
    page.goto(f"{server}/queues/")
    page.click("table >> text=demo-live")
    page.locator("#queue-status", has_text="idle").wait_for()
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    queue_id = page.locator("#queue-live").get_attribute("data-queue-id")
    assert page.request.post(
        f"{server}/api/queue/{queue_id}/start", headers={"X-CSRFToken": token}
    ).ok
    page.locator("tr[data-scan-id] .status", has_text="running").wait_for(timeout=10_000)
    page.get_by_role("link", name="Lock-in map").first.click()
    page.wait_for_function(
        "() => window.pybirchPlot && window.pybirchPlot.stats().draws > 0", timeout=30_000
    )
    measured = (
        "() => document.querySelector('.plot-map').data[0].z.flat()"
        ".filter((v) => v !== null).length"
    )
    limits = (
        "() => { const t = document.querySelector('.plot-map').data[0]; return [t.zmin, t.zmax]; }"
    )
    seen = [page.evaluate(limits)]
    first = page.evaluate(measured)
    for more in (20, 40):  # the colour limits only widen as points arrive: no jumping colours
        page.wait_for_function(f"() => ({measured})() > {first + more}", timeout=30_000)
        seen.append(page.evaluate(limits))
    lows, highs = zip(*seen, strict=True)
    assert list(lows) == sorted(lows, reverse=True)
    assert list(highs) == sorted(highs)
    z = plot_state(page, ".plot-map", "div.data[0].z")
    assert [len(row) for row in z] == [41] * 41  # the whole grid from the start
    assert any(v is None for row in z for v in row)  # cells not measured yet
    shot(page, "plot-map-live")
    page.request.post(f"{server}/api/queue/{queue_id}/abort", headers={"X-CSRFToken": token})
