// Writes the style rules plotly.js would inject at run time as a stylesheet of its own.
// The site's CSP (style-src 'self') blocks the <style> element plotly creates; a <link> with
// the id "plotly.js-style-global" and the class "no-inline-styles" tells plotly the rules are
// already there, and this file is what that link loads. The rules are the literal object
// plotly's bundle passes to addStyleRule ("X" = ".js-plotly-plot .plotly", "Y" =
// ".plotly-notifier"), read from the pinned bundle; a bundle without it fails loudly.
"use strict";
const fs = require("fs");
const vm = require("vm");
const [bundlePath, outPath, maplibrePath] = process.argv.slice(2);
const bundle = fs.readFileSync(bundlePath, "utf8");
const start = bundle.indexOf('{"X,X div":');
if (start < 0) throw new Error(`${bundlePath}: plotly's style rules not found`);
let depth = 0, end = start, quote = null;
for (; end < bundle.length; end++) {  // the object's closing brace, strings skipped
  const c = bundle[end];
  if (quote) { if (c === "\\") end++; else if (c === quote) quote = null; continue; }
  if (c === '"' || c === "'") quote = c;
  else if (c === "{") depth++;
  else if (c === "}" && --depth === 0) break;
}
// An object literal of strings (some keys unquoted): read in an empty context, not as JSON.
const rules = vm.runInNewContext(`(${bundle.slice(start, end + 1)})`, Object.create(null), { timeout: 1000 });
const css = Object.entries(rules).map(([selector, body]) => {
  const full = selector.replace(/^,/, " ,").replace(/X/g, ".js-plotly-plot .plotly").replace(/Y/g, ".plotly-notifier");
  return `${full}{${body}}`;
});
fs.writeFileSync(outPath, `/* plotly.js's own style rules, extracted by scripts/plotly_css.js */\n${css.join("\n")}\n`);

// The bundle also carries maplibre (map tiles, unused here), which injects its own <style> at
// load unless an element with its id exists: its rules go to a file the page links by that id.
const injected = /document\.getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document\.createElement\("style"\);\w+\.id="\1",\w+\.textContent=('(?:[^'\\]|\\.)*')/.exec(bundle);
if (!injected) throw new Error(`${bundlePath}: maplibre's injected style not found`);
const maplibre = vm.runInNewContext(injected[2], Object.create(null), { timeout: 1000 });
fs.writeFileSync(maplibrePath, `/* maplibre's style rules from plotly's bundle; id ${injected[1]} */\n${maplibre}\n`);
