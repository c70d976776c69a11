// The plot of a scan page: the controls, the data requests and the live updates; drawing is
// plot_line.js's (lines, spectra) and plot_map.js's (2-D maps). The server downsamples every
// request to what the plot can show (about two points per pixel column of a line, a cell per
// pixel of a map), and a zoom asks again for the window shown.
// A line of up to LIVE_LIMIT points grows row by row from the pushed data_point events; rows
// are placed by their index, so a gap (after a reconnection) is filled with catch_up and a
// repeat is dropped. Bigger plots and maps are re-fetched, downsampled, at most twice a
// second. Without the socket library the page polls every 2 s.
(function () {
  "use strict";
  const waiting = document.getElementById("scan-waiting");
  if (waiting) {  // a scan that has not stored a point yet: reload once it has
    const check = async () => {
      const response = await fetch(waiting.dataset.scanUrl);
      if (response.ok && (await response.json()).measurements.length) window.location.reload();
      else setTimeout(check, 1000);
    };
    setTimeout(check, 1000);
  }
  const root = document.getElementById("scan-plot");
  if (!root) return;
  const F = window.PyBirchPlotFormat;
  const scanUrl = root.dataset.scanUrl;
  const plotUrl = root.dataset.plotUrl;
  const form = root.querySelector("form");
  const measurementSelect = form.elements.measurement;
  const columnSelect = form.elements.column;
  const pointSlider = form.elements.point;
  const compareSelect = form.elements.compare;
  const extraBox = root.querySelector("[data-role=extra-columns]");
  const overlayList = root.querySelector("[data-role=overlays]");
  const toolbar = root.querySelector(".plot-toolbar");
  const logX = toolbar.querySelector("input[name=logx]"), logY = toolbar.querySelector("input[name=logy]");
  const area = root.querySelector(".plot-area");
  const note = root.querySelector(".plot-note");
  const readout = root.querySelector(".plot-readout");
  const columns = JSON.parse(root.dataset.columns);
  // Until the user picks, the server picks the value (a spectrum's last column) and the point
  // (a spectrum's newest one).
  let columnChosen = false, pointChosen = false;
  let kind = null, view = null, zoom = null, timer = null, scanRunning = root.dataset.live === "1";
  let overlays = [];  // other scans drawn over this one: {scanId, name, plot}
  let refitted = false;  // a zoomed map widened once to the window the plot shows
  let primary = null;  // the plot document of this scan's value last drawn
  let overlayChoices = [];
  const LIVE_LIMIT = 2000;
  // The rows of the line drawn, when it is small enough to grow in the browser.
  const live = { on: false, measurement: null, xLabel: null, yLabel: null, x: [], y: [], next: 0 };
  // What a test (or a curious user) reads: draws so far and when they happened (performance.now).
  const stats = { draws: 0, firstDraw: null, lastDraw: null, kind: null, cells: null, rows: null };

  function fillColumns() {
    const names = columns[measurementSelect.value] || [];
    columnSelect.replaceChildren(...names.map((n) => new Option(n, n)));
    extraBox.replaceChildren(...names.map((n) => {
      const label = document.createElement("label");
      label.className = "check";
      const box = Object.assign(document.createElement("input"), { type: "checkbox", value: n });
      label.append(box, ` ${n}`);
      return label;
    }));
  }

  function extraColumns() {
    return [...extraBox.querySelectorAll("input:checked")].map((b) => b.value).filter((n) => n !== columnSelect.value);
  }

  function showControls() {  // the controls of this kind of plot only
    root.querySelectorAll(".line-only").forEach((e) => { e.hidden = kind === "grid"; });
    root.querySelectorAll(".map-only").forEach((e) => { e.hidden = kind !== "grid"; });
    root.querySelector("[data-role=logy-label]").textContent = kind === "grid" ? "log colour" : "log y";
    compareSelect.parentElement.hidden = kind === "grid" || !overlayChoices.length;
    extraBox.parentElement.hidden = kind !== "line" || (columns[measurementSelect.value] || []).length < 2;
  }

  async function getPlot(url, params) {
    const response = await fetch(`${url}/${encodeURIComponent(measurementSelect.value)}?${params}`);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  // Downsampling asks for what the plot can show: 2 points a pixel column, a cell a pixel.
  function lineParams(y, x) {
    const params = new URLSearchParams();
    if (y) params.set("y", y);
    if (x) params.set("x", x);
    params.set("max_points", String(Math.min(20000, Math.max(200, 2 * (area.clientWidth || 1000)))));
    if (zoom && zoom.x) { params.set("x_min", zoom.x[0]); params.set("x_max", zoom.x[1]); }
    return params;
  }

  let refreshing = null, again = false;
  async function refresh() {  // one request at a time; a call meanwhile asks for one more
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try { await load(); } catch (error) { note.textContent = `No plot: ${error.message}`; }
    })();
    await refreshing;
    refreshing = null;
    if (again) { again = false; await refresh(); }
  }

  async function load() {
    // Both sizes are asked for: the server knows the kind of plot before the page does.
    const params = lineParams(columnChosen ? columnSelect.value : null);
    if (pointChosen) params.set("point", pointSlider.value);
    const pixels = (area.clientWidth || 800) * 460;
    params.set("max_cells", String(Math.min(250000, Math.max(16, pixels))));
    if (zoom && zoom.y) {  // a map's window, with a margin: plotly may show a little more
      ["x", "y"].forEach((a) => {
        const [low, high] = [Math.min(...zoom[a]), Math.max(...zoom[a])], margin = (high - low) * 0.1;
        params.set(`${a}_min`, low - margin); params.set(`${a}_max`, high + margin);
      });
    }
    const plot = await getPlot(plotUrl, params);
    if (kind !== plot.kind) {
      kind = plot.kind;
      view = kind === "grid" ? new window.PyBirchMapPlot(area, readout, zoomTo) : new window.PyBirchLinePlot(area, readout, zoomTo);
      showControls();
    }
    primary = plot;
    followRows(plot);
    showPoint(plot);
    columnSelect.value = plot.kind === "grid" ? plot.value_label : plot.y_label;
    extraBox.querySelectorAll("input").forEach((box) => {  // the value drawn is not an extra
      box.disabled = box.value === columnSelect.value;
      box.parentElement.hidden = box.disabled;
    });
    if (plot.kind === "grid") await drawMap(plot);
    else await drawLine(plot, plot.kind === "line" ? await extraPlots(plot) : []);
    describe(plot);
    if (plot.kind === "grid" && zoom && !refitted) {  // fill the room the equal scale added
      const shown = view.shownRange(), span = (r) => Math.abs(r[1] - r[0]);
      if (span(shown.x) > 1.2 * span(zoom.x) || span(shown.y) > 1.2 * span(zoom.y)) {
        zoom = shown; refitted = true;
        await load();
      }
    }
  }

  async function extraPlots(primary) {  // the other columns ticked, against the same x
    return Promise.all(extraColumns().map((y) => getPlot(plotUrl, lineParams(y, primary.x_label))));
  }

  function describe(plot) {
    if (plot.kind === "spectrum") {
      const where = Object.entries(plot.position || {}).map(([k, v]) => `${k} = ${v}`).join(", ");
      note.textContent = plot.points ? `point ${plot.point + 1} of ${plot.points.toLocaleString()}${where ? ` (${where})` : ""}` : "no point yet";
      return;
    }
    if (plot.kind === "grid") {
      const [rows, cols] = plot.cells || [0, 0];
      note.textContent = `${plot.rows.toLocaleString()} points of a ${cols.toLocaleString()} × ${rows.toLocaleString()} grid` +
        (plot.block > 1 ? `, drawn as ${plot.block}×${plot.block} block averages` : "") +
        (zoom ? " (zoomed)" : "");
      return;
    }
    const shown = plot.in_window !== undefined && zoom ? plot.in_window : plot.rows;
    note.textContent = `${plot.rows.toLocaleString()} points` +
      (zoom ? `, ${shown.toLocaleString()} in view` : "") +
      (plot.sent < shown ? `, ${plot.sent.toLocaleString()} drawn (each pixel column's extremes kept)` : "");
  }

  function showPoint(plot) {  // the point slider of a spectrum plot
    pointSlider.parentElement.hidden = plot.kind !== "spectrum";
    if (plot.kind !== "spectrum" || !plot.points) return;
    pointSlider.max = plot.points - 1;
    pointSlider.value = plot.point;
  }

  async function drawLine(plot, extras) {
    const series = [{ plot, name: F.splitLabel(plot.y_label).name }];
    extras.forEach((p) => series.push({ plot: p, name: F.splitLabel(p.y_label).name }));
    overlays.filter((o) => o.plot && o.plot.y_label === plot.y_label)
      .forEach((o) => series.push({ plot: o.plot, name: o.name, dash: "dot" }));
    if (series.length > 1) series[0].name = `${series[0].name} (this scan)`;
    await view.draw(series, { logx: logX.checked, logy: logY.checked, live: scanRunning, zoom });
    drawn();
  }

  async function drawMap(plot) {
    const limit = (input) => {
      const value = parseFloat(input.value);
      input.classList.toggle("invalid", input.value.trim() !== "" && !Number.isFinite(value));
      return Number.isFinite(value) ? value : null;
    };
    await view.draw(plot, { colormap: form.elements.colormap.value, log: logY.checked, live: scanRunning, zoom,
      zmin: limit(form.elements.zmin), zmax: limit(form.elements.zmax) });
    stats.cells = plot.cells;
    drawn();
  }

  function drawn() {
    const now = performance.now();
    stats.draws += 1; stats.lastDraw = now; stats.kind = kind;
    if (stats.firstDraw === null) stats.firstDraw = now;
  }

  // A zoom (from the plot, or zoomTo() from a test) asks the server for the window shown.
  function zoomTo(range) {
    zoom = kind === "grid" && view.fit ? view.fit(range) : range;
    refitted = false;
    return refresh();
  }

  // ---- overlays of other scans (the sample's, else the lab's latest) ----
  async function loadOverlayChoices() {
    const response = await fetch(root.dataset.overlaysUrl);
    if (!response.ok) return;
    const { scans, sample } = await response.json();
    overlayChoices = scans.filter((s) => s.measurements.includes(measurementSelect.value));
    compareSelect.replaceChildren(new Option(sample ? "another scan of this sample…" : "another scan of this lab…", ""),
      ...overlayChoices.map((s) => new Option(`${s.scan_name} · ${(s.created_at || "").slice(0, 16).replace("T", " ")}`, s.scan_id)));
    showControls();
  }

  async function addOverlay(scanId) {
    const choice = overlayChoices.find((s) => s.scan_id === scanId);
    if (!choice || overlays.some((o) => o.scanId === scanId)) return;
    const url = plotUrl.replace(root.dataset.scanId, scanId);
    try {
      const plot = await getPlot(url, lineParams(columnSelect.value, primary && primary.x_label));
      overlays.push({ scanId, name: choice.scan_name, plot });
    } catch (error) {
      note.textContent = `Cannot overlay ${choice.scan_name}: ${error.message}`;
      return;
    }
    showOverlays();
    await refresh();
  }

  function showOverlays() {
    overlayList.replaceChildren(...overlays.map((o) => {
      const item = document.createElement("li");
      const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×", title: `Stop drawing ${o.name}` });
      remove.addEventListener("click", () => { overlays = overlays.filter((x) => x !== o); showOverlays(); refresh(); });
      item.append(`${o.name}`, remove);
      return item;
    }));
  }

  // ---- live: statuses and rows ----
  async function followStatus(period = 2000) {
    const response = await fetch(scanUrl);
    if (!response.ok) return;
    const scan = await response.json();
    showStatus(scan.status, scan.progress);
    await refresh();
    if (["running", "paused", "queued"].includes(scan.status)) timer = setTimeout(() => followStatus(period), period);
  }

  function showStatus(status, progress) {
    scanRunning = ["running", "paused", "queued"].includes(status);
    const badge = document.getElementById("scan-status");
    if (badge) { badge.textContent = status; badge.className = `status ${status}`; }
    const bar = document.getElementById("scan-progress");
    if (bar && progress !== undefined) bar.value = progress;
  }

  // A small line takes over the server's rows and grows from the pushed ones from then on.
  function followRows(plot) {
    const small = plot.kind === "line" && !zoom && plot.sent === plot.rows && plot.rows < LIVE_LIMIT;
    Object.assign(live, {
      on: small, measurement: measurementSelect.value, xLabel: plot.x_label, yLabel: plot.y_label,
      x: small ? plot.x.slice() : [], y: small ? plot.y.slice() : [], next: small ? plot.rows : 0,
    });
  }

  // Adds the rows of a data_point or catch_up document from live.next on; false on a gap.
  function append(firstRow, data) {
    const xs = data[live.xLabel], ys = data[live.yLabel];
    if (!xs || !ys) { live.on = false; return true; }  // columns this line cannot follow
    if (firstRow > live.next) return false;
    for (let i = live.next - firstRow; i < ys.length; i++) { live.x.push(xs[i]); live.y.push(ys[i]); }
    live.next = Math.max(live.next, firstRow + ys.length);
    if (live.x.length >= LIVE_LIMIT) live.on = false;  // from here the server downsamples
    return true;
  }

  function followLive() {
    const socket = window.io({ transports: ["websocket", "polling"] });
    const pending = [];
    let catching = false, redraw = null, draw = null;
    const scheduleRefresh = () => { if (!redraw) redraw = setTimeout(() => { redraw = null; refresh(); }, 500); };
    const drawLive = () => {
      const plot = { kind: "line", x: live.x, y: live.y, x_label: live.xLabel, y_label: live.yLabel, rows: live.next, sent: live.next };
      if (extraColumns().length) { scheduleRefresh(); return; }  // the other columns come from the server
      drawLine(plot, []).then(() => describe(plot));
    };
    const scheduleDraw = () => {
      if (!draw) draw = setTimeout(() => { draw = null; if (live.on && kind === "line") drawLive(); }, 100);
    };
    const catchUp = () => new Promise((resolve) => socket.emit(
      "catch_up", { scan_id: root.dataset.scanId, measurement: live.measurement, from_row: live.next },
      (reply) => resolve(reply && reply.ok && reply.rows > 0 && append(reply.first_row, reply.columns)),
    ));
    async function pump() {  // in row order; a gap waits for the stored rows that fill it
      if (catching) return;
      while (pending.length && live.on) {
        const event = pending[0];
        if (!append(event.first_row, event.data)) {
          catching = true;
          const filled = await catchUp();
          catching = false;
          if (!filled) { setTimeout(pump, 250); return; }
          continue;
        }
        pending.shift();
      }
      pending.length = 0;
      if (live.on) scheduleDraw(); else scheduleRefresh();
    }
    socket.on("connect", () => socket.emit("join", { room: "scan", id: root.dataset.scanId }, (reply) => {
      ((reply && reply.latest) || []).forEach((e) => showStatus(e.payload.status, e.payload.progress));
      pump();
    }));
    socket.on("data_point", (event) => {
      if (event.measurement !== measurementSelect.value) return;
      if (live.on && live.measurement === event.measurement) { pending.push(event); pump(); } else scheduleRefresh();
    });
    socket.on("scan_status", (event) => {
      showStatus(event.status, event.progress);
      if (!scanRunning) {
        // The last rows may still be on their way: stop once the pump has placed them.
        setTimeout(() => { if (!live.on) scheduleRefresh(); socket.disconnect(); }, 1500);
      }
    });
    window.pybirchLive = { socket, state: () => ({ on: live.on, next: live.next, x: live.x.slice(), y: live.y.slice() }) };
  }

  // ---- controls ----
  const redrawFromScratch = () => { kind = null; zoom = null; refresh(); };
  measurementSelect.addEventListener("change", () => {
    fillColumns(); columnChosen = false; pointChosen = false; overlays = []; showOverlays();
    redrawFromScratch(); loadOverlayChoices();
  });
  columnSelect.addEventListener("change", () => { columnChosen = true; refreshOverlays(); });
  extraBox.addEventListener("change", () => refresh());
  pointSlider.addEventListener("change", () => { pointChosen = true; refresh(); });
  compareSelect.addEventListener("change", () => { const id = compareSelect.value; compareSelect.value = ""; if (id) addOverlay(id); });
  ["colormap", "zmin", "zmax"].forEach((name) => form.elements[name].addEventListener("change", () => refresh()));
  [logX, logY].forEach((box) => box.addEventListener("change", () => { if (view) view.reset(); refresh(); }));
  async function refreshOverlays() {  // another column: the overlays follow it
    const kept = overlays.map((o) => o.scanId);
    overlays = [];
    for (const id of kept) await addOverlay(id);
    await refresh();
  }
  toolbar.addEventListener("click", (event) => {
    const action = event.target.closest("button") && event.target.closest("button").dataset.action;
    if (!action || !view) return;
    if (action === "reset") { view.reset(); zoomTo(null); return; }
    const name = `${root.dataset.scanName || root.dataset.scanId}-${measurementSelect.value}`.replace(/[^\w.-]+/g, "_");
    view.exportImage(action, name);
  });

  window.pybirchPlot = {
    stats: () => ({ ...stats }),
    zoom: (range) => zoomTo(range),
    view: () => view,
    refresh,
  };

  fillColumns();
  refresh();
  loadOverlayChoices();
  if (root.dataset.live === "1") {
    // A scan run by another process has no live events here: a slow poll covers it.
    if (window.io) { followLive(); timer = setTimeout(() => followStatus(10000), 10000); } else followStatus();
  }
  window.addEventListener("beforeunload", () => clearTimeout(timer));
})();
