// The chair's hold on a running vote: live "voted N of M" with the time left, Close,
// Cancel (with a required reason), and the casting vote when a tie awaits it. One
// element for the page's life, so a progress update never wipes the reason being typed.

import { h, tx } from "../dom.js";
import { t } from "../i18n.js";
import { voteHeading } from "./vote-heading.js";
import { voteProgress } from "./vote-progress.js";

/** `send(button, cmd, args)` runs a command for the current vote's session. */
export function voteControl({ send }) {
  let vote = null;
  const heading = h("div");
  const progress = h("div");
  const closeButton = h("button", {
    type: "button",
    class: "btn btn-big btn-primary",
    "data-testid": "vote-close",
    "data-i18n": "vote.close",
    onclick: (event) => send(event.currentTarget, "vote.close", { vote: vote.id }),
  });
  const cancelButton = h("button", {
    type: "button",
    class: "btn btn-big btn-ghost",
    "data-testid": "vote-cancel",
    "data-i18n": "vote.cancel",
    onclick: () => showCancel(true),
  });
  const reason = h("input", {
    class: "input",
    minlength: 3,
    maxlength: 1000,
    "data-testid": "vote-cancel-reason",
    "data-i18n-placeholder": "vote.cancel_reason",
    "data-i18n-aria-label": "vote.cancel_reason",
  });
  const reasonError = h("p", { class: "form-error", role: "alert" });
  const cancelForm = h(
    "form",
    {
      class: "cancel-form",
      hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const text = reason.value.trim();
        if (text.length < 3) {
          reasonError.textContent = t("err.form_reason");
          reason.focus();
          return;
        }
        reasonError.textContent = "";
        const done = await send(event.submitter, "vote.cancel", { vote: vote.id, reason: text });
        if (done) showCancel(false);
      },
    },
    h("label", { class: "field-label", "data-i18n": "vote.cancel_reason" }),
    reason,
    reasonError,
    h(
      "div",
      { class: "button-row" },
      h("button", {
        type: "submit",
        class: "btn btn-danger",
        "data-testid": "vote-cancel-confirm",
        "data-i18n": "vote.cancel_confirm",
      }),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-i18n": "vote.cancel_back",
        onclick: () => showCancel(false),
      }),
    ),
  );
  const tieButtons = h(
    "div",
    { class: "tie-panel", "data-testid": "tie-panel", hidden: true },
    h("p", { class: "notice big", "data-i18n": "vote.tie_chair" }),
    h(
      "div",
      { class: "button-row" },
      ["yes", "no"].map((decision) =>
        h(
          "button",
          {
            type: "button",
            class: ["btn", "btn-big", `btn-ballot-${decision}`],
            "data-testid": `tie-${decision}`,
            onclick: (event) =>
              send(event.currentTarget, "vote.decide_tie", { vote: vote.id, decision }),
          },
          tx(`vote.tie_${decision}`),
        ),
      ),
    ),
  );
  const buttons = h("div", { class: "button-row" }, closeButton, cancelButton);
  const el = h(
    "div",
    { class: "vote-control", "data-testid": "vote-control", hidden: true },
    heading,
    progress,
    tieButtons,
    buttons,
    cancelForm,
  );

  function showCancel(on) {
    cancelForm.hidden = !on;
    cancelButton.hidden = on;
    if (on) reason.focus();
    else {
      reason.value = "";
      reasonError.textContent = "";
    }
  }

  function update(state) {
    const current = state.vote;
    const running = ["open", "pending_chair"].includes(current?.state);
    if (!running || current.id !== vote?.id) showCancel(false);
    vote = running ? current : null;
    el.hidden = !running;
    if (!running) return;
    el.dataset.vote = vote.id;
    el.dataset.state = vote.state;
    heading.replaceChildren(voteHeading(vote, { level: "h3" }));
    progress.replaceChildren(voteProgress(state));
    tieButtons.hidden = vote.state !== "pending_chair";
    closeButton.hidden = vote.state !== "open";
  }

  return { el, update };
}
