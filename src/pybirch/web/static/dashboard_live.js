// The dashboard, live: progress and statuses follow the lab's events; when a scan starts or
// ends, or a queue appears, the lists are fetched again (at most once a second).
(function () {
  "use strict";
  const grid = document.getElementById("dashboard-live");
  if (!grid || !window.io) return;
  const socket = window.io({ transports: ["websocket", "polling"] });
  let reload = null;
  const reasons = new Map();  // scan id -> why it is paused (kept across list refreshes)

  function setStatus(element, status) {
    element.textContent = status;
    element.className = `status ${status}`;
  }

  function row(attribute, value) {
    return [...grid.querySelectorAll(`tr[${attribute}]`)].find((r) => r.getAttribute(attribute) === String(value));
  }

  function showReason(shown, scanId) {
    const why = shown && shown.querySelector(".why");
    if (!why) return;
    why.textContent = reasons.get(scanId) || "";
    why.hidden = !reasons.has(scanId);
  }

  function refreshLists() {  // the server renders the lists; swap them in without a reload
    if (reload) return;
    reload = setTimeout(async () => {
      reload = null;
      const response = await fetch(window.location.href);
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("dashboard-live");
      if (fresh) grid.innerHTML = fresh.innerHTML;
      reasons.forEach((_, scanId) => showReason(row("data-scan-id", scanId), scanId));
    }, 1000);
  }

  socket.on("connect", () => socket.emit("join", { room: "lab", id: Number(grid.dataset.labId) }));
  socket.on("scan_status", (event) => {
    if (event.message) reasons.set(event.scan_id, event.message); else reasons.delete(event.scan_id);
    const shown = row("data-scan-id", event.scan_id);
    if (!shown || !["running", "paused"].includes(event.status)) { refreshLists(); return; }
    setStatus(shown.querySelector(".status"), event.status);
    showReason(shown, event.scan_id);  // e.g. which instrument a pause waits for
    shown.querySelector("progress").value = event.progress;
    shown.querySelector(".percent").textContent = `${Math.round(100 * event.progress)} %`;
  });
  socket.on("queue_status", (event) => {
    const shown = row("data-queue-id", event.queue_id);
    if (shown) setStatus(shown.querySelector(".status"), event.status); else refreshLists();
  });
  socket.on("instrument_status", (event) => {
    if (window.applyInstrumentStatus) window.applyInstrumentStatus(grid, event);
  });
})();
