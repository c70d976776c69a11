// The scan page as a workplace: pause, resume and abort (confirmed in a dialog), every number,
// the status and the log kept live, notes and tags saved in place, the Python code copied.
// Socket.IO events (scan_status, data_point, and the queue's queue_log lines of this scan) say
// that something changed; the numbers themselves come from the scan's /live document, so they
// are the stored ones. While the scan is active the page also asks every few seconds, in case
// the socket is away.
(function () {
  "use strict";
  const root = document.getElementById("scan-page");
  if (!root) return;
  const scanId = root.dataset.scanId;
  const controlTable = JSON.parse(root.dataset.controls);
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const byId = (id) => document.getElementById(id);
  const POLL_MS = 5000, SOON_MS = 250, EVENT_WINS_MS = 3000, RETRY_MS = 1000;
  let lastLog = Number(root.dataset.lastLog) || 0;
  let status = root.dataset.status;
  let controllable = !byId("control-note") || byId("control-note").hidden;
  let pending = null, inFlight = false, again = false, poller = null;
  // The database is written a moment after the event: a status pushed by an event stands
  // against an older stored one for EVENT_WINS_MS, and a finished scan never looks active again.
  let eventAt = 0, staleRetries = 0;

  const active = (s) => Object.prototype.hasOwnProperty.call(controlTable, s);
  const number = (n) => Number(n).toLocaleString("en-US");
  const when = (iso, digits = 16) => (iso ? new Date(iso).toISOString().slice(0, digits).replace("T", " ") : "—");

  // -- status, numbers, log ------------------------------------------------------------------
  function showStatus(next) {
    status = next;
    root.dataset.status = next;
    const badge = byId("scan-status");
    badge.textContent = next;
    badge.className = `status ${next}`;
    showControls();
    if (active(next)) startPolling(); else stopPolling();
  }

  function showProgress(progress) {
    byId("scan-progress").value = progress;
    byId("scan-percent").textContent = `${Math.round(100 * progress)} %`;
  }

  function show(doc) {
    const stale = (!active(status) && active(doc.status))
      || (doc.status !== status && Date.now() - eventAt < EVENT_WINS_MS);
    if (stale) {
      if (staleRetries++ < 20) refreshSoon(RETRY_MS);
      if (!active(status)) return;  // the final numbers come with the final stored status
    } else {
      staleRetries = 0;
      if (doc.status !== status) showStatus(doc.status);
    }
    controllable = doc.controllable;
    showControls();
    showProgress(doc.progress);
    byId("scan-points").textContent = number(doc.points_done);
    byId("scan-total").textContent = number(doc.total_points);
    byId("scan-started").textContent = when(doc.started_at);
    byId("scan-ended").textContent = when(doc.completed_at);
    const error = byId("scan-error");
    error.textContent = doc.error_message || "";
    document.querySelectorAll(".error-row").forEach((e) => { e.hidden = !doc.error_message; });
    for (const m of doc.measurements) {
      const row = document.querySelector(`tr[data-measurement="${CSS.escape(m.name)}"] .rows`);
      if (row) row.textContent = number(m.rows);
    }
    appendLogs(doc.logs);
  }

  function appendLogs(entries) {
    const body = byId("scan-log");
    for (const entry of entries) {
      if (entry.id <= lastLog) continue;
      lastLog = entry.id;
      const line = document.createElement("tr");
      const level = document.createElement("span");
      level.className = `level ${entry.level.toLowerCase()}`;
      level.textContent = entry.level;
      const cells = [when(entry.timestamp, 19), level, entry.message];
      cells.forEach((content, i) => {
        const cell = document.createElement("td");
        cell.className = ["sub when", "level-cell", ""][i];
        cell.append(content);
        line.append(cell);
      });
      body.append(line);
    }
    const count = body.rows.length;
    byId("log-count").textContent = count;
    byId("log-empty").hidden = count > 0;
  }

  async function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const response = await fetch(`${root.dataset.liveUrl}?after_log=${lastLog}`, { headers: { Accept: "application/json" } });
      if (response.ok) show(await response.json());
    } catch (error) {
      // The server is away for a moment: the next event or poll asks again.
    } finally {
      inFlight = false;
      if (again) { again = false; refreshSoon(); }
    }
  }

  // Many events in a burst make one request.
  function refreshSoon(delay = SOON_MS) {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, delay);
  }

  function startPolling() { if (!poller) poller = setInterval(refresh, POLL_MS); }
  function stopPolling() { clearInterval(poller); poller = null; }

  // -- controls ------------------------------------------------------------------------------
  const controls = byId("scan-controls");
  const note = byId("control-note");

  function showControls() {
    if (!controls) return;
    const allowed = controlTable[status] || [];
    controls.hidden = !active(status);
    controls.querySelectorAll("button[data-action]").forEach((button) => {
      button.disabled = !controllable || !allowed.includes(button.dataset.action);
    });
    if (note && !note.dataset.error) {
      note.hidden = controllable || !active(status);
      if (!controllable) note.textContent = "The computer that runs this scan's queue is not connected to this server: pause, resume and abort come back when it is.";
    }
  }

  async function act(action) {
    controls.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const url = root.dataset.controlUrl.replace("ACTION", action);
    try {
      const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf, Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        note.dataset.error = "1";
        note.hidden = false;
        note.textContent = `Could not ${action} the scan: ${(body.error && body.error.message) || response.statusText}`;
      } else {
        delete note.dataset.error;
      }
    } finally {
      showControls();
      refreshSoon(0);
    }
  }

  if (controls) {
    const dialog = byId("abort-dialog");
    controls.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || button.disabled) return;
      if (button.dataset.action === "abort") dialog.showModal(); else act(button.dataset.action);
    });
    dialog.addEventListener("close", () => { if (dialog.returnValue === "abort") act("abort"); });
  }

  // -- notes and tags ------------------------------------------------------------------------
  const form = byId("notes-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const state = byId("notes-state");
      const tags = form.elements.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
      state.textContent = "Saving…";
      const response = await fetch(root.dataset.notesUrl, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
        body: JSON.stringify({ notes: form.elements.notes.value, tags }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        state.textContent = `Not saved: ${(body.error && body.error.message) || response.statusText}`;
        state.className = "error-text";
        return;
      }
      state.className = "sub";
      state.textContent = "Saved.";
      showNotes(body.notes, body.tags);
      form.elements.tags.value = body.tags.join(", ");
    });
  }

  function showNotes(notes, tags) {
    const list = byId("scan-tags");
    list.replaceChildren(...tags.map((tag) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.className = "tag";
      link.href = root.dataset.tagUrl.replace("TAG", encodeURIComponent(tag));
      link.textContent = tag;
      item.append(link);
      return item;
    }));
    const text = byId("scan-notes-text");
    text.textContent = notes;
    text.hidden = !notes;
    byId("scan-notes-empty").hidden = Boolean(notes || tags.length);
  }

  // -- the Python code -----------------------------------------------------------------------
  const copy = byId("copy-snippet");
  if (copy) {
    copy.addEventListener("click", async () => {
      const code = byId("python-snippet").textContent;
      let copied = false;
      try {
        await navigator.clipboard.writeText(code);
        copied = true;
      } catch (error) {
        // No clipboard API outside a secure context (plain http on the lab network): select it.
        const range = document.createRange();
        range.selectNodeContents(byId("python-snippet"));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        copied = document.execCommand("copy");
      }
      byId("copy-state").textContent = copied ? "Copied." : "Selected: press Ctrl+C.";
    });
  }

  // -- live events ---------------------------------------------------------------------------
  if (window.io) {
    const socket = window.io({ transports: ["websocket", "polling"] });
    socket.on("connect", () => {
      socket.emit("join", { room: "scan", id: scanId }, () => refreshSoon(0));
      if (root.dataset.queueId) socket.emit("join", { room: "queue", id: Number(root.dataset.queueId) });
    });
    socket.on("scan_status", (event) => {
      if (event.scan_id !== scanId) return;
      eventAt = Date.now();
      if (event.status !== status) showStatus(event.status);
      showProgress(event.progress);
      refreshSoon(0);
    });
    socket.on("data_point", (event) => { if (event.scan_id === scanId) refreshSoon(1000); });
    socket.on("queue_log", (event) => { if (event.scan_id === scanId) refreshSoon(); });
  }
  if (active(status)) startPolling();
  window.pybirchScanPage = { refresh, status: () => status, lastLog: () => lastLog };
})();
