// Numbers and labels as a physicist reads them: SI prefixes (1.5 µA, 20 mV), the unit taken
// from a column label "name (unit)", and plotly axis settings that tick the same way. Shared by
// plot_line.js and plot_map.js through window.PyBirchPlotFormat.
(function () {
  "use strict";
  const PREFIXES = { "-24": "y", "-21": "z", "-18": "a", "-15": "f", "-12": "p", "-9": "n", "-6": "µ",
    "-3": "m", "0": "", "3": "k", "6": "M", "9": "G", "12": "T", "15": "P", "18": "E", "21": "Z", "24": "Y" };

  // "current (A)" -> {name: "current", unit: "A"}; a label without a unit keeps unit "".
  function splitLabel(label) {
    const match = /^(.*\S)\s*\(([^()]*)\)$/.exec(label || "");
    return match ? { name: match[1], unit: match[2] } : { name: label || "", unit: "" };
  }

  // 4 significant digits with an SI prefix and the unit: -5e-7, "A" -> "−500 nA". A unitless
  // number reads in scientific notation beyond 1e±4 (an SI prefix on a bare number misleads).
  function si(value, unit, digits = 4) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    if (!Number.isFinite(value)) return `${value > 0 ? "" : "−"}∞`;
    if (value === 0) return unit ? `0 ${unit}` : "0";
    const power = Math.floor(Math.log10(Math.abs(value)));
    if (!unit) {
      const text = Math.abs(power) >= 4 ? value.toExponential(digits - 1) : String(Number(value.toPrecision(digits)));
      return text.replace("-", "−");
    }
    const engineering = Math.min(24, Math.max(-24, 3 * Math.floor(power / 3)));
    const scaled = value / 10 ** engineering;
    const text = String(Number(scaled.toPrecision(digits))).replace("-", "−");
    return `${text} ${PREFIXES[engineering]}${unit}`;
  }

  // What follows a tick's number: "mV" right after its prefix ("20mV"), a word unit spaced
  // ("350 counts"), nothing for a dimensionless "1".
  function suffix(unit) {
    if (!unit || unit === "1") return "";
    return /^[A-Za-z]{3,}$/.test(unit) && !/^(Ohm|ohm)$/.test(unit) ? ` ${unit}` : unit;
  }

  // Plotly axis settings for a column: its label as the title, ticks with SI prefixes and the
  // unit ("500nA"), or powers of ten for a number without a unit.
  function axis(label, extra) {
    const { unit } = splitLabel(label);
    const ink = cssColour("--ink", "#1d2733"), line = cssColour("--line", "#dde3ea");
    return Object.assign({
      title: { text: label, font: { color: ink } },
      exponentformat: unit ? "SI" : "power",
      minexponent: 1,  // 20 mV, not 0.02 V
      ticksuffix: suffix(unit),
      hoverformat: ".4~s",
      tickfont: { color: ink },
      gridcolor: line, zerolinecolor: line, linecolor: cssColour("--muted", "#5d6b7a"),
      showline: true, mirror: true, ticks: "outside", automargin: true,
    }, extra || {});
  }

  // A colour from the page's theme (pybirch.css variables), so a dark theme recolours plots.
  function cssColour(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // The layout every plot shares: the theme's colours, room for titles, no plotly branding.
  function baseLayout(extra) {
    return Object.assign({
      paper_bgcolor: cssColour("--card", "#ffffff"), plot_bgcolor: cssColour("--card", "#ffffff"),
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: cssColour("--ink", "#1d2733") },
      margin: { l: 70, r: 20, t: 10, b: 50 },
      hoverlabel: { namelength: -1 },
    }, extra || {});
  }

  const CONFIG = { displaylogo: false, responsive: true, scrollZoom: false,
    modeBarButtonsToRemove: ["toImage", "lasso2d", "select2d", "sendDataToCloud"] };

  window.PyBirchPlotFormat = { splitLabel, si, suffix, axis, cssColour, baseLayout, CONFIG };
})();
