// The instruments list and an instrument's page, live: each row's (or the page's) status,
// since when and last error follow instrument_status events (see instrument_status.js).
(function () {
  "use strict";
  const table = document.getElementById("instruments-live");
  if (!table || !window.io || !window.applyInstrumentStatus) return;
  const socket = window.io({ transports: ["websocket", "polling"] });
  socket.on("connect", () => socket.emit("join", { room: "lab", id: Number(table.dataset.labId) }));
  socket.on("instrument_status", (event) => window.applyInstrumentStatus(table, event));
})();
