// Destructive forms ask first: a form with data-confirm="question" opens a dialog, and is
// sent only when its action button is pressed (Escape or Cancel keep everything as it was).
// Attach-by-attribute, no inline script: the page's Content Security Policy forbids those.
(() => {
  "use strict";

  let dialog = null;
  let pending = null; // {form, submitter} waiting for an answer

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-question");
    dialog.innerHTML =
      '<form method="dialog">' +
      '<p id="confirm-question"></p>' +
      '<div class="actions">' +
      '<button type="submit" value="cancel" class="cancel">Cancel</button>' +
      '<button type="submit" value="confirm" class="danger confirm"></button>' +
      "</div></form>";
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => {
      const answer = pending;
      pending = null;
      if (answer && dialog.returnValue === "confirm") {
        answer.form.dataset.confirmed = "yes";
        answer.form.requestSubmit(answer.submitter || undefined);
      }
    });
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed; // asked again should the page stay (a failed request)
      return;
    }
    event.preventDefault();
    if (!dialog) build();
    const submitter = event.submitter || null;
    dialog.querySelector("#confirm-question").textContent = form.dataset.confirm;
    const label = form.dataset.confirmButton || (submitter && submitter.textContent.trim()) || "Yes";
    dialog.querySelector("button.confirm").textContent = label;
    dialog.returnValue = "";
    pending = { form, submitter };
    dialog.showModal();
    dialog.querySelector("button.cancel").focus(); // Enter alone must not destroy anything
  });
})();
