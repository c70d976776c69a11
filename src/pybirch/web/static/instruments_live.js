// The instruments page, live: an instrument's status badge follows instrument_status events.
(function () {
  "use strict";
  const table = document.getElementById("instruments-live");
  if (!table || !window.io) return;
  const socket = window.io({ transports: ["websocket", "polling"] });
  socket.on("connect", () => socket.emit("join", { room: "lab", id: Number(table.dataset.labId) }));
  socket.on("instrument_status", (event) => {
    const row = [...table.querySelectorAll("tr[data-instrument]")].find((r) => r.dataset.instrument === event.instrument);
    if (!row) return;
    const badge = row.querySelector(".status");
    badge.textContent = event.status;
    badge.className = `status ${event.status}`;
  });
})();
