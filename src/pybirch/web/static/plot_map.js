// A 2-D map (plotly heatmap): axes in the stages' units with an equal scale when both share a
// unit, y upwards, a colour bar with set or automatic limits (grow-only while a scan runs, so
// the colours do not jump) and a log scale, perceptual colour maps, the value under the cursor,
// zoom, and line cuts along x (below) and y (beside) at the cursor; a click pins the cuts.
(function () {
  "use strict";
  const F = window.PyBirchPlotFormat;
  // matplotlib's perceptual maps, nine stops each (plotly names viridis and cividis itself).
  const STOPS = {
    magma: ["#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761", "#fec287", "#fcfdbf"],
    inferno: ["#000004", "#1f0c48", "#550f6d", "#88226a", "#ba3655", "#e35933", "#f98e09", "#f9cb35", "#fcffa4"],
    plasma: ["#0d0887", "#4c02a1", "#7e03a8", "#a92395", "#cc4778", "#e56b5d", "#f89441", "#fdc328", "#f0f921"],
  };
  const HEIGHT = 460;  // of the map and of the cut beside it
  const NAMED = { viridis: "Viridis", cividis: "Cividis", greys: "Greys", RdBu: "RdBu" };

  function colourscale(name) {
    if (STOPS[name]) return STOPS[name].map((c, i, all) => [i / (all.length - 1), c]);
    return NAMED[name] || "Viridis";
  }

  function finiteExtent(rows) {
    let low = Infinity, high = -Infinity;
    for (const row of rows) for (const v of row) if (v !== null && Number.isFinite(v)) { if (v < low) low = v; if (v > high) high = v; }
    return [low, high];
  }

  // The edges of the cells around centres `c`: a map's axis range shows whole cells.
  function edges(c) {
    if (c.length === 0) return null;
    const half = c.length > 1 ? (c[c.length - 1] - c[0]) / (c.length - 1) / 2 : 0.5;
    return [c[0] - half, c[c.length - 1] + half];
  }

  function MapPlot(area, readout, onZoom) {
    const frame = document.createElement("div");
    frame.className = "plot-map-frame";
    const main = document.createElement("div"), cutY = document.createElement("div"), cutX = document.createElement("div");
    main.className = "plot-map"; cutY.className = "plot-cut plot-cut-y"; cutX.className = "plot-cut plot-cut-x";
    frame.append(main, cutY, cutX);
    area.replaceChildren(frame);
    let revision = 0, limits = null, plot = null, pinned = null, hovered = null, listening = false, options = {};

    // The values drawn: log10 of positive values on a log colour scale (plotly has none).
    function values(z, log) {
      return log ? z.map((row) => row.map((v) => (v !== null && v > 0 ? Math.log10(v) : null))) : z;
    }

    function colourBar(value, log, range) {
      const { unit } = F.splitLabel(value);
      const bar = { title: { text: value, side: "right" }, exponentformat: unit ? "SI" : "power",
        ticksuffix: F.suffix(unit), outlinewidth: 0, thickness: 16, len: 1, tickfont: { color: F.cssColour("--ink", "#1d2733") } };
      if (log && range) {  // decades, labelled as the values they stand for
        const ticks = [];
        for (let k = Math.floor(range[0]); k <= Math.ceil(range[1]); k++) ticks.push(k);
        Object.assign(bar, { tickvals: ticks, ticktext: ticks.map((k) => F.si(10 ** k, unit, 3)), ticksuffix: "" });
      }
      return bar;
    }

    this.draw = async function (newPlot, newOptions) {
      plot = newPlot; options = newOptions;
      const z = values(plot.z, options.log);
      let range = [options.zmin, options.zmax].map((v) => (options.log && v !== null ? Math.log10(v) : v));
      const [low, high] = finiteExtent(z);
      if (range[0] === null || range[1] === null) {
        // Automatic limits; while the scan runs they only widen (a zoomed view has its own).
        const auto = options.live && limits && !options.zoom ? [Math.min(limits[0], low), Math.max(limits[1], high)] : [low, high];
        if (Number.isFinite(auto[0])) limits = options.zoom ? limits : auto;
        range = [range[0] ?? auto[0], range[1] ?? auto[1]];
      }
      const x = F.splitLabel(plot.x_label), y = F.splitLabel(plot.y_label), v = F.splitLabel(plot.value_label);
      const equal = x.unit !== "" && x.unit === y.unit;
      const xAxis = F.axis(plot.x_label, { range: cellRange(plot.x_label, plot.x, plot.cells[1]),
        constrain: "domain", showgrid: false, zeroline: false });
      const yAxis = F.axis(plot.y_label, { range: cellRange(plot.y_label, plot.y, plot.cells[0]),
        constrain: "domain", showgrid: false, zeroline: false });
      if (equal) Object.assign(yAxis, { scaleanchor: "x", scaleratio: 1 });
      if (options.zoom) { xAxis.range = options.zoom.x; yAxis.range = options.zoom.y; }
      // One scale on both axes: the map is made as wide as its height calls for, so the
      // colour bar and the cut along y sit right beside it (plotly would leave a gap).
      // A zoom keeps the size (its window was fitted to it); other units take the room there is.
      if (!options.zoom || !main.style.width) {
        main.style.width = `${equal ? mapWidth(xAxis.range, yAxis.range) : frame.clientWidth - 208}px`;
      }
      const trace = {
        type: "heatmap", x: plot.x, y: plot.y, z, zauto: false,
        zmin: Number.isFinite(range[0]) ? range[0] : 0, zmax: Number.isFinite(range[1]) ? range[1] : 1,
        colorscale: colourscale(options.colormap), hoverongaps: false,
        colorbar: colourBar(plot.value_label, options.log, range),
        hovertemplate: `${x.name} %{x:.4~s}${x.unit}<br>${y.name} %{y:.4~s}${y.unit}<br>` +
          (options.log ? `log₁₀ ${v.name} %{z:.3f}` : `${v.name} %{z:.4~s}${v.unit}`) + "<extra></extra>",
      };
      await Plotly.react(main, [trace], F.baseLayout({
        height: HEIGHT, uirevision: `map-${revision}`, xaxis: xAxis, yaxis: yAxis, margin: MARGINS,
      }), F.CONFIG);
      if (!listening) listen();
      await drawCuts();
    };

    const MARGINS = { l: 80, r: 10, t: 24, b: 50 }, COLOUR_BAR = 110;
    function mapWidth(xRange, yRange) {
      const room = frame.clientWidth - 208;  // beside the cut along y (plots.css)
      const high = HEIGHT - MARGINS.t - MARGINS.b;
      const wide = (high * Math.abs(xRange[1] - xRange[0])) / Math.abs(yRange[1] - yRange[0]);
      return Math.round(Math.max(240, Math.min(room, wide + MARGINS.l + MARGINS.r + COLOUR_BAR)));
    }

    // The range of whole cells of an axis: the full grid's ends and cell count when known.
    function cellRange(label, centres, count) {
      const ends = (plot.extent || {})[label];
      if (!ends || count < 2) return edges(centres);
      const half = (ends[1] - ends[0]) / (count - 1) / 2;
      return [ends[0] - half, ends[1] + half];
    }

    // The row and the column of the map under the cursor (or pinned), as two small lines.
    async function drawCuts() {
      if (!plot || !plot.z.length) return;
      // Until the cursor is on the map: a running map's newest row, else the middle one.
      let last = plot.z.length - 1;
      while (last > 0 && !plot.z[last].some((v) => v !== null)) last -= 1;
      const whole = last === plot.z.length - 1;  // a finished (or zoomed) map: its middle
      const middle = { row: whole ? Math.floor(plot.z.length / 2) : last, column: Math.floor(plot.x.length / 2) };
      const at = pinned || hovered || middle;
      if (at.row >= plot.y.length || at.column >= plot.x.length) Object.assign(at, middle);  // a new zoom
      const row = plot.z[Math.min(at.row, plot.z.length - 1)] || [];
      const column = plot.z.map((r) => r[Math.min(at.column, r.length - 1)]);
      const v = plot.value_label;
      // The cuts line up with the map's data area (narrowed to keep one scale on both axes).
      const fx = main._fullLayout.xaxis, fy = main._fullLayout.yaxis, width = main.clientWidth;
      const xRange = fx.range.slice(), yRange = fy.range.slice();
      const where = pinned ? " (pinned: click the map to follow the cursor)" : "";
      const common = { type: "scatter", mode: "lines", line: { color: "#2d6a4f", width: 1.4 } };
      const valueAxis = F.axis(v, { type: options.log ? "log" : "linear", title: { text: "" } });
      await Promise.all([
        Plotly.react(cutX, [{ ...common, x: plot.x, y: row, hovertemplate: "%{y:.4~s}<extra></extra>" }], F.baseLayout({
          height: 170, uirevision: `cx-${revision}`, margin: { l: fx._offset, r: Math.max(10, width - fx._offset - fx._length), t: 24, b: 40 },
          title: { text: `cut at ${F.splitLabel(plot.y_label).name} = ${F.si(plot.y[at.row], F.splitLabel(plot.y_label).unit)}${where}`, font: { size: 12 }, x: 0, xanchor: "left" },
          xaxis: F.axis(plot.x_label, { range: xRange, title: { text: "" } }), yaxis: valueAxis,
        }), { ...F.CONFIG, displayModeBar: false }),
        Plotly.react(cutY, [{ ...common, x: column, y: plot.y, hovertemplate: "%{x:.4~s}<extra></extra>" }], F.baseLayout({
          height: HEIGHT, uirevision: `cy-${revision}`, margin: { l: 10, r: 10, t: fy._offset, b: Math.max(10, HEIGHT - fy._offset - fy._length) },
          title: { text: `cut at ${F.splitLabel(plot.x_label).name} = ${F.si(plot.x[at.column], F.splitLabel(plot.x_label).unit)}`, font: { size: 12 }, x: 0, xanchor: "left" },
          xaxis: { ...valueAxis, nticks: 4 }, yaxis: F.axis(plot.y_label, { range: yRange, showticklabels: false, title: { text: "" } }),
        }), { ...F.CONFIG, displayModeBar: false }),
      ]);
    }

    function cellOf(point) {  // plotly gives a heatmap point's [row, column]
      const n = point.pointNumber || point.pointIndex;
      return Array.isArray(n) ? { row: n[0], column: n[1] } : null;
    }

    function listen() {
      listening = true;
      main.on("plotly_hover", (event) => {
        const point = event.points[0], cell = cellOf(point);
        if (!cell || !plot) return;
        const x = F.splitLabel(plot.x_label), y = F.splitLabel(plot.y_label), v = F.splitLabel(plot.value_label);
        const value = plot.z[cell.row][cell.column];
        readout.textContent = `${x.name} = ${F.si(plot.x[cell.column], x.unit)}, ${y.name} = ${F.si(plot.y[cell.row], y.unit)}: ` +
          `${v.name} = ${value === null ? "not measured" : F.si(value, v.unit)}`;
        if (!pinned) { hovered = cell; scheduleCuts(); }
      });
      main.on("plotly_click", (event) => {
        const cell = cellOf(event.points[0]);
        pinned = pinned ? null : cell;
        main.classList.toggle("pinned", pinned !== null);
        drawCuts();
      });
      main.on("plotly_relayout", (event) => {
        if (event["xaxis.autorange"] || event["yaxis.autorange"]) { onZoom(null); return; }
        const zoom = {};
        if (event["xaxis.range[0]"] !== undefined) zoom.x = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
        if (event["yaxis.range[0]"] !== undefined) zoom.y = [event["yaxis.range[0]"], event["yaxis.range[1]"]];
        if (zoom.x || zoom.y) onZoom({ x: zoom.x || main.layout.xaxis.range, y: zoom.y || main.layout.yaxis.range });
      });
    }

    // Hovering redraws the cuts at most once a frame.
    let cutsQueued = false;
    function scheduleCuts() {
      if (cutsQueued) return;
      cutsQueued = true;
      requestAnimationFrame(() => { cutsQueued = false; drawCuts(); });
    }

    this.reset = function () { revision += 1; limits = null; pinned = null; hovered = null; };
    // A zoom window widened to the plot area's shape when one scale holds on both axes, so
    // that the cells asked for are the cells shown (no second request after plotly widens it).
    this.fit = (range) => {
      if (!range || !plot || !main._fullLayout) return range;
      const x = F.splitLabel(plot.x_label).unit, y = F.splitLabel(plot.y_label).unit;
      if (!x || x !== y) return range;
      const size = main._fullLayout._size, span = (r) => Math.abs(r[1] - r[0]);
      const perPixel = Math.max(span(range.x) / size.w, span(range.y) / size.h);
      const widen = (r, pixels) => {
        const middle = (r[0] + r[1]) / 2, half = (perPixel * pixels) / 2;
        return r[0] <= r[1] ? [middle - half, middle + half] : [middle + half, middle - half];
      };
      return { x: widen(range.x, size.w), y: widen(range.y, size.h) };
    };

    // The window shown: wider than asked when one scale on both axes needs more room.
    this.shownRange = () => main._fullLayout && { x: main._fullLayout.xaxis.range.slice(), y: main._fullLayout.yaxis.range.slice() };
    this.element = main;
    this.exportImage = (format, filename) => Plotly.downloadImage(main, { format, filename, width: 1000, height: 800 });
    this.cut = () => ({ pinned, x: cutX.data && cutX.data[0].y, y: cutY.data && cutY.data[0].x });
  }

  window.PyBirchMapPlot = MapPlot;
})();
