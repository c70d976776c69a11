// The scan builder, live: the number of points and the expected duration while the user
// types, a settings form made from each instrument's JSON schema and kept in step with the
// settings' JSON text, and the settings of only the instruments the scan uses.
// The figures follow pybirch/web/builder_estimate.py, which gives them to a page the server
// renders (after an error, or without script); keep the two in step.
(function () {
  "use strict";

  const form = document.getElementById("builder-form");
  const dataNode = document.getElementById("builder-data");
  if (!form || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const byName = new Map(data.instruments.map((info) => [info.name, info]));

  // -- reading the form --------------------------------------------------------------------

  function field(name) {
    return form.elements.namedItem(name);
  }

  function whole(text) {
    const trimmed = String(text || "").trim();
    return /^[+-]?\d+$/.test(trimmed) ? parseInt(trimmed, 10) : null;
  }

  function real(text) {
    const trimmed = String(text || "").trim();
    const value = trimmed === "" ? NaN : Number(trimmed);
    return Number.isFinite(value) ? value : null;
  }

  function plannedAxes() {
    const axes = [];
    for (let number = 1; field(`axis${number}_instrument`); number += 1) {
      const prefix = `axis${number}_`;
      const instrument = field(prefix + "instrument").value.trim();
      if (!instrument) continue;
      const start = real(field(prefix + "start").value);
      const stop = real(field(prefix + "stop").value);
      axes.push({
        instrument,
        points: whole(field(prefix + "points").value),
        span: start === null || stop === null ? null : Math.abs(stop - start),
        snake: field(prefix + "snake").checked,
      });
    }
    return axes;
  }

  function measured() {
    return Array.from(form.querySelectorAll('input[name="measure"]:checked'), (box) => box.value);
  }

  function settingsText(name) {
    const box = field(`settings_${name}`);
    return box ? box.value : "";
  }

  function parseObject(text) {
    try {
      const value = JSON.parse(text);
      return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
    } catch (error) {
      return null;
    }
  }

  function effectiveSettings(name) {
    const info = byName.get(name);
    const typed = settingsText(name).trim() ? parseObject(settingsText(name)) : {};
    return { ...(info ? info.settings : {}), ...(typed || {}) };
  }

  // -- the figures (as builder_estimate.py) --------------------------------------------------

  function seconds(value) {
    return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
  }

  function pointCount(axes) {
    if (!axes.length || axes.some((axis) => axis.points === null || axis.points < 1)) return null;
    return axes.reduce((product, axis) => product * axis.points, 1);
  }

  function settingsSeconds(axes, measurements) {
    let total = 0;
    let visits = 1;
    for (const axis of axes) {
      const own = effectiveSettings(axis.instrument);
      const delay = seconds(own.delay);
      if (delay === null || axis.points === null) return null;
      const passes = visits;
      visits *= axis.points;
      total += visits * delay;
      const speed = seconds(own.speed);
      if (speed && axis.span) {
        const returns = axis.snake ? 0 : passes - 1;
        total += ((passes + returns) * axis.span) / speed;
      }
    }
    if (!measurements.length) return null;
    for (const name of measurements) {
      const delay = seconds(effectiveSettings(name).delay);
      if (delay === null) return null;
      total += visits * delay;
    }
    return total;
  }

  function durationText(value) {
    if (value < 10) return value >= 0.01 ? `${Number(value.toPrecision(2))} s` : "under 0.01 s";
    const rounded = Math.round(value);
    for (const [big, small, name, smallName] of [
      [86400, 3600, "d", "h"],
      [3600, 60, "h", "min"],
      [60, 1, "min", "s"],
    ]) {
      if (rounded >= big) {
        const rest = Math.floor((rounded % big) / small);
        return `${Math.floor(rounded / big)} ${name}` + (rest ? ` ${rest} ${smallName}` : "");
      }
    }
    return `${rounded} s`;
  }

  function lastScanWith(instruments) {
    const wanted = Array.from(new Set(instruments)).sort().join("\u0000");
    return data.timings.find((timing) => timing.instruments.join("\u0000") === wanted) || null;
  }

  const shown = {
    points: document.getElementById("est-points"),
    readings: document.getElementById("est-readings"),
    duration: document.getElementById("est-duration"),
    history: document.getElementById("est-history"),
    cap: document.getElementById("est-cap"),
  };

  function showFigures() {
    const axes = plannedAxes();
    const measurements = measured();
    const points = pointCount(axes);
    shown.cap.hidden = true;
    if (points === null) {
      shown.points.textContent = shown.readings.textContent = shown.duration.textContent = "—";
      shown.history.textContent = "";
      return;
    }
    const readings = points * measurements.length;
    shown.points.textContent = points.toLocaleString("en-US");
    shown.readings.textContent = readings.toLocaleString("en-US");
    const history = measurements.length
      ? lastScanWith(axes.map((axis) => axis.instrument).concat(measurements))
      : null;
    const fromSettings = settingsSeconds(axes, measurements);
    if (fromSettings !== null) {
      shown.duration.textContent = `≈ ${durationText(fromSettings)} (from the instruments' delay settings)`;
    } else if (history) {
      shown.duration.textContent =
        `≈ ${durationText(history.seconds_per_reading * readings)} (at the pace of the last ` +
        `scan with these instruments, '${history.scan_name}')`;
    } else {
      shown.duration.textContent =
        "unknown: no delay settings and no earlier scan with these instruments";
    }
    shown.history.textContent = history
      ? `The last scan with these instruments, “${history.scan_name}”, took ` +
        `${durationText(history.seconds_per_reading)} a reading.`
      : "";
    if (readings > data.max_points) {
      shown.cap.textContent =
        `${readings.toLocaleString("en-US")} readings: the most a scan may take is ` +
        `${data.max_points.toLocaleString("en-US")}.`;
      shown.cap.hidden = false;
    }
  }

  // -- settings: a form from the schema, in step with the JSON ------------------------------

  function label(key) {
    const words = key.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function kindOf(spec, current) {
    if (Array.isArray(spec.enum)) return "enum";
    const type = Array.isArray(spec.type) ? spec.type.find((t) => t !== "null") : spec.type;
    if (type) return type;
    if (typeof current === "boolean") return "boolean";
    if (typeof current === "number") return Number.isInteger(current) ? "integer" : "number";
    if (typeof current === "string") return "string";
    return "json";
  }

  function element(tag, properties, children) {
    const node = Object.assign(document.createElement(tag), properties || {});
    for (const child of children || []) node.append(child);
    return node;
  }

  // One input of the settings form: read() says whether it sets a value, write() shows one.
  function settingField(instrument, key, spec, current) {
    const kind = kindOf(spec, current);
    const id = `setting-${instrument}-${key}`.replace(/[^A-Za-z0-9_-]/g, "-");
    const now = element("span", {
      className: "sub now",
      textContent: current === undefined ? "" : `now ${JSON.stringify(current)}`,
    });
    let input;
    let read;
    let write;
    if (kind === "enum" || kind === "boolean") {
      const choices = kind === "enum" ? spec.enum : [true, false];
      input = element("select", { id }, [element("option", { value: "", textContent: "— keep" })]);
      for (const choice of choices) {
        input.append(element("option", { value: JSON.stringify(choice), textContent: String(choice) }));
      }
      read = () => (input.value === "" ? { set: false } : { set: true, value: JSON.parse(input.value) });
      write = (value) => {
        const wanted = value === undefined ? "" : JSON.stringify(value);
        input.value = Array.from(input.options).some((o) => o.value === wanted) ? wanted : "";
      };
    } else if (kind === "number" || kind === "integer" || kind === "string") {
      const numeric = kind !== "string";
      input = element("input", { id, type: numeric ? "number" : "text" });
      if (numeric) {
        input.step = kind === "integer" ? "1" : "any";
        const low = spec.minimum ?? spec.exclusiveMinimum;
        const high = spec.maximum ?? spec.exclusiveMaximum;
        if (low !== undefined) input.min = String(low);
        if (high !== undefined) input.max = String(high);
      }
      read = () => {
        if (input.value === "") return { set: false };
        return { set: true, value: numeric ? Number(input.value) : input.value };
      };
      write = (value) => {
        input.value = value === undefined || value === null ? "" : String(value);
      };
    } else {
      // objects and lists are edited as JSON
      input = element("span", { id, className: "sub", textContent: "edit in JSON" });
      read = () => null;
      write = () => {};
    }
    input.dataset.setting = key;
    const wrapper = element("label", { htmlFor: id, className: "setting" }, [
      element("span", { className: "setting-name", textContent: label(key) }),
      now,
      input,
    ]);
    const described = spec.description || spec.title;
    if (described) wrapper.append(element("span", { className: "sub", textContent: described }));
    return { key, wrapper, input, read, write };
  }

  function settingsPanel(fieldset) {
    const name = fieldset.dataset.instrument;
    const info = byName.get(name);
    const textarea = fieldset.querySelector("textarea");
    const holder = fieldset.querySelector(".settings-form");
    const modes = fieldset.querySelector(".settings-mode");
    const modeInput = modes.querySelector("input");
    const state = fieldset.querySelector(".json-state");
    const jsonLabel = fieldset.querySelector(".settings-json");
    const current = fieldset.querySelector(".current-settings");
    const schema = (info && info.settings_schema) || {};
    const properties = schema.properties || {};
    const values = (info && info.settings) || {};
    const keys = Object.keys(properties).concat(Object.keys(values).filter((k) => !(k in properties)));
    const fields = keys.map((key) => settingField(name, key, properties[key] || {}, values[key]));
    for (const each of fields) holder.append(each.wrapper);
    if (!fields.length) holder.append(element("p", { className: "empty", textContent: "No settings." }));

    function toForm() {
      const text = textarea.value.trim();
      const typed = text ? parseObject(text) : {};
      if (typed === null) {
        state.textContent = "This is not a JSON object yet: fix it here to use the form.";
        return false;
      }
      for (const each of fields) each.write(typed[each.key]);
      const others = Object.keys(typed).filter((key) => !keys.includes(key));
      state.textContent = others.length ? `Only in the JSON: ${others.join(", ")}` : "";
      return true;
    }

    function fromForm() {
      const typed = parseObject(textarea.value) || {};
      for (const each of fields) {
        const got = each.read();
        if (got === null) continue;
        if (got.set && !Number.isNaN(got.value)) typed[each.key] = got.value;
        else delete typed[each.key];
      }
      textarea.value = Object.keys(typed).length ? JSON.stringify(typed) : "";
    }

    function show(mode) {
      if (mode === "form" && !toForm()) mode = "json";
      modeInput.value = mode;
      holder.hidden = mode !== "form";
      jsonLabel.hidden = mode !== "json";
      current.hidden = mode === "form" && fields.length > 0; // the form shows each "now"
      for (const button of modes.querySelectorAll("button")) {
        button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
      }
    }

    holder.addEventListener("input", fromForm);
    holder.addEventListener("change", fromForm);
    textarea.addEventListener("input", () => {
      toForm();
    });
    modes.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-mode]");
      if (button) show(button.dataset.mode);
    });
    modes.hidden = false;
    const invalid = textarea.getAttribute("aria-invalid") === "true" && parseObject(textarea.value || "{}") === null;
    show(invalid ? "json" : modeInput.value === "json" ? "json" : "form");
  }

  // -- which instruments' settings to show -------------------------------------------------

  const fieldsets = Array.from(form.querySelectorAll("fieldset.instrument-settings"));
  const noSettings = document.getElementById("settings-none");

  function showUsedSettings() {
    const used = new Set(plannedAxes().map((axis) => axis.instrument).concat(measured()));
    let visible = 0;
    for (const fieldset of fieldsets) {
      fieldset.hidden = !used.has(fieldset.dataset.instrument) && !fieldset.classList.contains("has-error");
      if (!fieldset.hidden) visible += 1;
    }
    noSettings.hidden = visible > 0;
  }

  for (const fieldset of fieldsets) settingsPanel(fieldset);
  function refresh() {
    showUsedSettings();
    showFigures();
  }
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
})();
