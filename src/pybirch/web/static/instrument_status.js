// Instrument rows (and an instrument page's badges) follow instrument_status events: the status
// badge, since when, and the last error. Rows carry data-instrument-id (names are unique per
// computer, not per lab); an event without a record id (an agent that went away) is matched by
// name and computer.
(function () {
  "use strict";

  function when(seconds) {  // as the server's |when filter: 2026-11-21 14:03 (UTC)
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
  }

  // Every element under root that shows the event's instrument (a page may show it twice).
  function rowsFor(root, event) {
    const rows = [...root.querySelectorAll("[data-instrument]")];
    if (event.instrument_id !== null && event.instrument_id !== undefined) {
      const byId = rows.filter((r) => r.dataset.instrumentId === String(event.instrument_id));
      if (byId.length) return byId;
    }
    const byName = rows.find((r) => r.dataset.instrument === event.instrument
      && (!event.computer || (r.dataset.computers || "").split("\n").includes(event.computer)));
    return byName ? [byName] : [];
  }

  function showError(row, event) {
    const error = row.querySelector(".last-error");
    if (!error) return;
    if (event.error) {
      error.textContent = event.error;
      error.hidden = false;
      const at = row.querySelector(".error-at");
      if (at) at.textContent = when(event.timestamp);
    } else if (error.hasAttribute("data-while-down") && !["disconnected", "error"].includes(event.status)) {
      error.hidden = true;  // the dashboard shows the error only while it lasts
    }
  }

  // Apply one instrument_status event to the rows under root; false if no row shows it.
  window.applyInstrumentStatus = function (root, event) {
    const rows = rowsFor(root, event);
    for (const row of rows) {
      const badge = row.querySelector(".status");
      badge.textContent = event.status;
      badge.className = `status ${event.status}`;
      const changed = row.querySelector(".changed");
      if (changed && event.timestamp) changed.textContent = when(event.timestamp);
      showError(row, event);
    }
    return rows.length > 0;
  };
})();
