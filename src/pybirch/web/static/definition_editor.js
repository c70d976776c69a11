// The driver editor: CodeMirror 6 (Python) on the code's textarea, checked as the user types.
// Each pause in typing sends the code to the validate API (which parses and compiles it,
// never runs it); every problem is marked at its line and listed under the editor. Without
// this script, or without the bundle, the plain textarea posts the form just the same.
//
// The editor lives in a shadow root: there CodeMirror styles itself with constructed style
// sheets, which the page's Content-Security-Policy (style-src 'self') allows, where the
// <style> elements it would add to the document are refused.
(function () {
  "use strict";
  const cm = window.PyBirchCodeMirror;
  const textarea = document.getElementById("source_code");
  if (!cm || !textarea) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const list = document.getElementById("problems");
  const state = document.getElementById("validation-state");
  const kind = document.getElementById("instrument_type");
  const url = textarea.dataset.validateUrl;

  // A problem's place in the document: from its column to the end of its line.
  function range(doc, line, column) {
    const text = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
    const from = column ? Math.min(text.from + column - 1, text.to) : text.from;
    return { from: from, to: Math.max(from, text.to) };
  }

  function say(text, bad) {
    state.textContent = text;
    state.classList.toggle("bad", Boolean(bad));
    state.classList.toggle("good", !bad);
  }

  function goTo(view, line) {
    const place = range(view.state.doc, line, 1);
    view.dispatch({ selection: { anchor: place.from }, scrollIntoView: true });
    view.focus();
  }

  function listProblems(view, problems) {
    list.replaceChildren();
    for (const problem of problems) {
      const item = document.createElement("li");
      if (problem.line) {
        const link = document.createElement("a");
        link.href = "#source_code";
        link.textContent = "line " + problem.line + (problem.column ? ", column " + problem.column : "");
        link.addEventListener("click", function (event) {
          event.preventDefault();
          goTo(view, problem.line);
        });
        item.append(link, ": ");
      } else if (problem.field !== "source_code") {
        item.append(problem.field.replace("_", " ") + ": ");
      }
      item.append(problem.message);
      list.append(item);
    }
  }

  async function check(view) {
    const code = view.state.doc.toString();
    let report;
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ source_code: code, instrument_type: kind ? kind.value : null }),
      });
      if (!response.ok) {
        say("not checked: the server answered " + response.status, true);
        return [];
      }
      report = await response.json();
    } catch (error) {
      say("not checked: the server cannot be reached", true);
      return [];
    }
    listProblems(view, report.problems);
    if (report.ok) {
      say("no problems" + (report.class_name ? ": " + report.class_name + "(" + report.base_class + ")" : ""), false);
    } else {
      const count = report.problems.length;
      say(count + " problem" + (count === 1 ? "" : "s"), true);
    }
    return report.problems
      .filter(function (problem) { return problem.field === "source_code"; })
      .map(function (problem) {
        const place = range(view.state.doc, problem.line, problem.column);
        return { from: place.from, to: place.to, severity: "error", message: problem.message, source: "PyBirch" };
      });
  }

  // The page's stylesheet does not reach into the shadow root: the editor's look is here.
  const look = cm.EditorView.theme({
    "&": { height: "36rem", background: "#fff", border: "1px solid #dde3ea", borderRadius: "6px",
           fontSize: "0.88rem" },
    "&.cm-focused": { outline: "2px solid #b9dcc8" },
    ".cm-scroller": { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
                      lineHeight: "1.5" },
    ".cm-gutters": { background: "#f5f7fa", borderRight: "1px solid #dde3ea", color: "#9aa7b4" },
  });
  const host = document.createElement("div");
  host.className = "code-editor";
  textarea.after(host);
  const shadow = host.attachShadow({ mode: "open" });
  const view = new cm.EditorView({
    parent: shadow,
    root: shadow,
    doc: textarea.value,
    extensions: [
      look,
      cm.basicSetup,
      cm.python(),
      cm.lintGutter(),
      cm.linter(check, { delay: 500 }),
      cm.EditorView.updateListener.of(function (update) {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.hidden = true;
  if (kind) kind.addEventListener("change", function () { cm.forceLinting(view); });
  for (const link of list.querySelectorAll("a[data-line]")) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      goTo(view, Number(link.dataset.line));
    });
  }
})();
