// The plot of a scan page: a line (uPlot) or a heatmap (canvas), live while the scan runs.
// A line of up to LIVE_LIMIT points grows row by row from the pushed data_point events; rows
// are placed by their index, so a gap (after a reconnection) is filled with catch_up and a
// repeat is dropped. Bigger plots and heatmaps are re-fetched, downsampled, at most twice a
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
  const scanUrl = root.dataset.scanUrl;
  const plotUrl = root.dataset.plotUrl;
  const measurementSelect = root.querySelector("select[name=measurement]");
  const columnSelect = root.querySelector("select[name=column]");
  const pointSlider = root.querySelector("input[name=point]");
  // Until the user picks, the server picks the value (a spectrum's last column) and the point
  // (a spectrum's newest one).
  let columnChosen = false, pointChosen = false;
  const area = root.querySelector(".plot-area");
  const note = root.querySelector(".plot-note");
  const columns = JSON.parse(root.dataset.columns);
  let chart = null;
  let timer = null;
  const LIVE_LIMIT = 2000;
  // The rows of the line drawn, when it is small enough to grow in the browser.
  const live = { on: false, measurement: null, xLabel: null, yLabel: null, x: [], y: [], next: 0 };

  function fillColumns() {
    const names = columns[measurementSelect.value] || [];
    columnSelect.innerHTML = names.map((n) => `<option>${escapeHtml(n)}</option>`).join("");
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  async function refresh() {
    const params = new URLSearchParams();
    if (columnChosen) params.set("y", columnSelect.value);
    if (pointChosen) params.set("point", pointSlider.value);
    const response = await fetch(`${plotUrl}/${encodeURIComponent(measurementSelect.value)}?${params}`);
    if (!response.ok) {
      note.textContent = `No plot: ${(await response.json()).error.message}`;
      return;
    }
    const plot = await response.json();
    followRows(plot);
    showPoint(plot);
    if (plot.value_label || plot.y_label) columnSelect.value = plot.kind === "grid" ? plot.value_label : plot.y_label;
    if (plot.kind === "grid") drawHeatmap(plot); else drawLine(plot);
    if (plot.kind === "spectrum") {
      const where = Object.entries(plot.position || {}).map(([k, v]) => `${k} = ${v}`).join(", ");
      note.textContent = plot.points ? `point ${plot.point + 1} of ${plot.points.toLocaleString()}${where ? ` (${where})` : ""}` : "no point yet";
      return;
    }
    note.textContent = plot.kind === "grid"
      ? `${plot.rows.toLocaleString()} points${plot.block > 1 ? `, averaged over ${plot.block}×${plot.block} blocks` : ""}`
      : `${plot.rows.toLocaleString()} points${plot.sent < plot.rows ? `, ${plot.sent.toLocaleString()} drawn (extremes kept)` : ""}`;
  }

  function showPoint(plot) {  // the point slider of a spectrum plot
    pointSlider.parentElement.hidden = plot.kind !== "spectrum";
    if (plot.kind !== "spectrum" || !plot.points) return;
    pointSlider.max = plot.points - 1;
    pointSlider.value = plot.point;
  }

  function drawLine(plot) {
    const data = [plot.x, plot.y];
    if (chart && chart.series[1].label === plot.y_label) { chart.setData(data); return; }
    area.innerHTML = "";
    chart = new uPlot({
      width: area.clientWidth || 800, height: 360,
      scales: { x: { time: false } },
      axes: [{ label: plot.x_label }, { label: plot.y_label, size: 70 }],
      series: [{ label: plot.x_label }, { label: plot.y_label, stroke: "#2d6a4f", width: 1.5, points: { show: plot.x.length < 200 } }],
    }, data, area);
  }

  function drawHeatmap(plot) {
    chart = null;
    area.innerHTML = "";
    const canvas = document.createElement("canvas");
    const rows = plot.z.length, cols = rows ? plot.z[0].length : 0;
    canvas.width = Math.max(cols, 1); canvas.height = Math.max(rows, 1);
    canvas.className = "heatmap";
    canvas.title = `${plot.value_label} over ${plot.x_label} (across) and ${plot.y_label} (down)`;
    const values = plot.z.flat().filter((v) => v !== null);
    const low = Math.min(...values), high = Math.max(...values);
    const image = canvas.getContext("2d").createImageData(canvas.width, canvas.height);
    plot.z.forEach((row, r) => row.forEach((v, c) => {
      const [red, green, blue] = v === null ? [235, 238, 242] : colour((v - low) / ((high - low) || 1));
      const i = 4 * (r * canvas.width + c);
      image.data.set([red, green, blue, 255], i);
    }));
    canvas.getContext("2d").putImageData(image, 0, 0);
    area.append(canvas);
    const legend = document.createElement("div");
    legend.className = "sub";
    legend.textContent = `${plot.value_label}: ${low.toPrecision(4)} (dark) to ${high.toPrecision(4)} (bright); ` +
      `${plot.x_label} ${plot.x[0]}–${plot.x[plot.x.length - 1]} across, ${plot.y_label} ${plot.y[0]}–${plot.y[plot.y.length - 1]} down`;
    area.append(legend);
  }

  function colour(t) {  // a perceptual dark-blue to yellow ramp (viridis-like)
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
    return stops[i].map((a, k) => Math.round(a + f * (stops[i + 1][k] - a)));
  }

  async function followStatus(period = 2000) {
    const response = await fetch(scanUrl);
    if (!response.ok) return;
    const scan = await response.json();
    showStatus(scan.status, scan.progress);
    await refresh();
    if (["running", "paused", "queued"].includes(scan.status)) timer = setTimeout(() => followStatus(period), period);
  }

  function showStatus(status, progress) {
    const badge = document.getElementById("scan-status");
    badge.textContent = status;
    badge.className = `status ${status}`;
    const bar = document.getElementById("scan-progress");
    if (bar && progress !== undefined) bar.value = progress;
  }

  // A small line takes over the server's rows and grows from the pushed ones from then on.
  function followRows(plot) {
    const small = plot.kind === "line" && plot.sent === plot.rows && plot.rows < LIVE_LIMIT;
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

  // Live: the server pushes rows and statuses over Socket.IO.
  function followLive() {
    const socket = window.io({ transports: ["websocket", "polling"] });
    const pending = [];
    let catching = false, redraw = null, draw = null;
    const scheduleRefresh = () => { if (!redraw) redraw = setTimeout(() => { redraw = null; refresh(); }, 500); };
    const scheduleDraw = () => {
      if (!draw) draw = setTimeout(() => { draw = null; if (live.on) drawLine({ x: live.x, y: live.y, x_label: live.xLabel, y_label: live.yLabel }); }, 100);
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
      if (!["running", "paused", "queued"].includes(event.status)) {
        // The last rows may still be on their way: stop once the pump has placed them.
        setTimeout(() => { if (!live.on) scheduleRefresh(); socket.disconnect(); }, 1500);
      }
    });
    window.pybirchLive = { socket, state: () => ({ on: live.on, next: live.next, x: live.x.slice(), y: live.y.slice() }) };
  }

  measurementSelect.addEventListener("change", () => {
    fillColumns(); columnChosen = false; pointChosen = false; chart = null; refresh();
  });
  columnSelect.addEventListener("change", () => { columnChosen = true; chart = null; refresh(); });
  pointSlider.addEventListener("change", () => { pointChosen = true; refresh(); });
  fillColumns();
  refresh();
  if (root.dataset.live === "1") {
    // A scan run by another process has no live events here: a slow poll covers it.
    if (window.io) { followLive(); timer = setTimeout(() => followStatus(10000), 10000); } else followStatus();
  }
  window.addEventListener("beforeunload", () => clearTimeout(timer));
})();
