// A line plot (plotly): several columns and several scans overlaid, SI ticks, log axes, a
// cursor readout, and limits that follow live data without jumping: while a scan runs the axes
// only grow, with headroom, so a new point inside the view never moves it.
(function () {
  "use strict";
  const F = window.PyBirchPlotFormat;
  const PALETTE = ["#2d6a4f", "#2b6cb0", "#b7791f", "#c53030", "#6b46c1", "#0f766e", "#9d174d"];
  const HEADROOM = 0.1;  // of the span, added on each side when a live axis grows

  // Limits [low, high] that contain [low, high] of the data, grown from `previous` only.
  function grow(previous, low, high) {
    if (!Number.isFinite(low) || !Number.isFinite(high)) return previous;
    if (previous && low >= previous[0] && high <= previous[1]) return previous;
    const lo = previous ? Math.min(low, previous[0]) : low, hi = previous ? Math.max(high, previous[1]) : high;
    const pad = (hi - lo || Math.abs(hi) || 1) * HEADROOM;
    return [lo - pad, hi + pad];
  }

  function extent(values) {
    let low = Infinity, high = -Infinity;
    for (const v of values) if (v !== null && Number.isFinite(v)) { if (v < low) low = v; if (v > high) high = v; }
    return [low, high];
  }

  // series: [{plot, name, dash}] (plot: the API's line document); the first sets the axes.
  function LinePlot(area, readout, onZoom) {
    const div = document.createElement("div");
    div.className = "plot-line";
    area.replaceChildren(div);
    let revision = 0, limits = {}, drawn = null;

    function traces(series, yUnit) {
      return series.map((s) => {
        const { unit } = F.splitLabel(s.plot.y_label);
        const xUnit = F.splitLabel(s.plot.x_label).unit;
        return {
          type: "scatter", x: s.plot.x, y: s.plot.y, name: s.name,
          mode: s.plot.x.length <= 200 ? "lines+markers" : "lines",
          line: { color: PALETTE[s.rank % PALETTE.length], width: 1.6, dash: s.dash || "solid" },
          marker: { size: 5 },
          yaxis: unit === yUnit ? "y" : "y2", legendrank: s.rank + 1,
          hovertemplate: `%{x:.4~s}${xUnit} · %{y:.4~s}${unit}<extra>${s.name}</extra>`,
        };
      });
    }

    // Draws (plotly's react: only what changed is redrawn); resolves once on screen.
    this.draw = async function (series, options) {
      const primary = series[0].plot;
      series.forEach((s, i) => { s.rank = i; });
      const yUnit = F.splitLabel(primary.y_label).unit;
      // Other scans are drawn first, under this scan's lines; the legend lists this scan first.
      series = [...series.filter((s) => s.dash), ...series.filter((s) => !s.dash)];
      const data = traces(series, yUnit);
      const second = series.find((s) => F.splitLabel(s.plot.y_label).unit !== yUnit);
      const xAxis = F.axis(primary.x_label, { type: options.logx ? "log" : "linear" });
      const yAxis = F.axis(primary.y_label, { type: options.logy ? "log" : "linear" });
      if (options.live) {  // grow-only limits on linear axes; log axes fit themselves
        const onY = data.filter((t) => t.yaxis === "y");
        if (!options.logx) limits.x = grow(limits.x, ...extent(data.flatMap((t) => t.x)));
        if (!options.logy) limits.y = grow(limits.y, ...extent(onY.flatMap((t) => t.y)));
        if (limits.x && !options.logx) xAxis.range = limits.x;
        if (limits.y && !options.logy) yAxis.range = limits.y;
      }
      if (options.zoom) xAxis.range = options.logx ? options.zoom.x.map(Math.log10) : options.zoom.x;
      const layout = F.baseLayout({
        height: 380, uirevision: `line-${revision}`, hovermode: "closest",
        xaxis: xAxis, yaxis: yAxis,
        showlegend: series.length > 1,
        legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
        margin: { l: 80, r: second ? 80 : 20, t: series.length > 1 ? 30 : 10, b: 50 },
      });
      if (second) {
        layout.yaxis2 = F.axis(second.plot.y_label, { overlaying: "y", side: "right", showgrid: false,
          type: options.logy ? "log" : "linear", mirror: false });
      }
      drawn = { series, layout };
      await Plotly.react(div, data, layout, F.CONFIG);
      if (!listening) listen();
    };

    // Back to all the data: a new ui revision drops the user's zoom; live limits start over.
    this.reset = function () { revision += 1; limits = {}; };

    this.element = div;
    this.exportImage = (format, filename) => Plotly.downloadImage(div, { format, filename, width: 1200, height: 600 });

    let listening = false;
    function listen() {  // plotly adds .on() to the div at its first draw
      listening = true;
      div.on("plotly_hover", (event) => {
        const point = event.points[0];
        const s = drawn.series[point.curveNumber];
        const x = F.splitLabel(s.plot.x_label), y = F.splitLabel(s.plot.y_label);
        readout.textContent = `${x.name} = ${F.si(point.x, x.unit)} · ${y.name} = ${F.si(point.y, y.unit)}` +
          (drawn.series.length > 1 ? ` (${s.name})` : "");
      });
      div.on("plotly_relayout", (event) => {
        if (event["xaxis.autorange"]) { onZoom(null); return; }
        if (event["xaxis.range[0]"] !== undefined) {
          let range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
          if (div.layout.xaxis.type === "log") range = range.map((v) => 10 ** v);
          onZoom({ x: range });
        }
      });
    }
  }

  window.PyBirchLinePlot = LinePlot;
})();
