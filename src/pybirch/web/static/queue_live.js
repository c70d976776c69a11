// The queue page, live: statuses, progress and log lines pushed over Socket.IO.
(function () {
  "use strict";
  const root = document.getElementById("queue-live");
  if (!root || !window.io) return;
  const socket = window.io({ transports: ["websocket", "polling"] });

  function setStatus(element, status) {
    element.textContent = status;
    element.className = `status ${status}`;
  }

  const handlers = {
    queue_status: (event) => setStatus(document.getElementById("queue-status"), event.status),
    scan_status: showScan,
  };
  // The page may be a moment older than the queue: the join answers with its latest statuses.
  socket.on("connect", () => socket.emit("join", { room: "queue", id: Number(root.dataset.queueId) },
    (reply) => ((reply && reply.latest) || []).forEach((e) => handlers[e.name](e.payload))));
  socket.on("queue_status", handlers.queue_status);
  socket.on("scan_status", showScan);
  function showScan(event) {
    const row = document.querySelector(`tr[data-scan-id="${event.scan_id}"]`);
    if (!row) return;
    setStatus(row.querySelector(".status"), event.status);
    row.querySelector("progress").value = event.progress;
    row.querySelector(".percent").textContent = `${Math.round(100 * event.progress)} %`;
  }
  socket.on("queue_log", (event) => {
    const line = document.createElement("tr");
    const when = new Date(event.timestamp * 1000).toISOString().slice(0, 16).replace("T", " ");
    for (const [text, cls] of [[when, "sub"], [event.level, `level ${event.level.toLowerCase()}`], [event.message, ""]]) {
      const cell = document.createElement("td");
      const span = document.createElement("span");
      span.textContent = text;
      if (cls) (cls.startsWith("level") ? span : cell).className = cls;
      cell.append(span);
      line.append(cell);
    }
    document.getElementById("queue-log").append(line);
  });
})();
