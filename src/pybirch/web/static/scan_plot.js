// The plot of a scan page: a line (uPlot) or a heatmap (canvas), redrawn live while the scan
// runs (pushed over Socket.IO; polled every 2 s if the socket library is missing).
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
  const area = root.querySelector(".plot-area");
  const note = root.querySelector(".plot-note");
  const columns = JSON.parse(root.dataset.columns);
  let chart = null;
  let timer = null;

  function fillColumns() {
    const names = columns[measurementSelect.value] || [];
    columnSelect.innerHTML = names.map((n) => `<option>${escapeHtml(n)}</option>`).join("");
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  async function refresh() {
    const params = new URLSearchParams({ y: columnSelect.value });
    const response = await fetch(`${plotUrl}/${encodeURIComponent(measurementSelect.value)}?${params}`);
    if (!response.ok) {
      note.textContent = `No plot: ${(await response.json()).error.message}`;
      return;
    }
    const plot = await response.json();
    if (plot.kind === "grid") drawHeatmap(plot); else drawLine(plot);
    note.textContent = plot.kind === "grid"
      ? `${plot.rows.toLocaleString()} points${plot.block > 1 ? `, averaged over ${plot.block}×${plot.block} blocks` : ""}`
      : `${plot.rows.toLocaleString()} points${plot.sent < plot.rows ? `, ${plot.sent.toLocaleString()} drawn (extremes kept)` : ""}`;
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

  // Live: the server pushes rows and statuses; the plot is redrawn at most twice a second.
  function followLive() {
    const socket = window.io({ transports: ["websocket", "polling"] });
    let redraw = null;
    const scheduleRefresh = () => { if (!redraw) redraw = setTimeout(() => { redraw = null; refresh(); }, 500); };
    socket.on("connect", () => socket.emit("join", { room: "scan", id: root.dataset.scanId }, scheduleRefresh));
    socket.on("data_point", scheduleRefresh);
    socket.on("scan_status", (event) => {
      showStatus(event.status, event.progress);
      if (!["running", "paused", "queued"].includes(event.status)) { scheduleRefresh(); socket.disconnect(); }
    });
  }

  measurementSelect.addEventListener("change", () => { fillColumns(); chart = null; refresh(); });
  columnSelect.addEventListener("change", () => { chart = null; refresh(); });
  fillColumns();
  refresh();
  if (root.dataset.live === "1") {
    // A scan run by another process has no live events here: a slow poll covers it.
    if (window.io) { followLive(); timer = setTimeout(() => followStatus(10000), 10000); } else followStatus();
  }
  window.addEventListener("beforeunload", () => clearTimeout(timer));
})();
