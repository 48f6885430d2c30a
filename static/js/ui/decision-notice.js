// "Decision No. X adopted" on every screen that follows a sitting: shown when a
// decision.adopted or decision.signed event arrives, with a link to the decision's page,
// until the next one or until closed. Mount `el` once; it listens to the live client.

import { decisionOfEvent, decisionPage } from "../decisions.js";
import { h, tx } from "../dom.js";

export function decisionNotice(live) {
  const el = h("div", {
    class: "decision-notice",
    role: "status",
    "aria-live": "polite",
    "data-testid": "decision-notice",
    "data-volatile": true, // news of the moment, not the sitting's state
    hidden: true,
  });

  function show(d) {
    el.dataset.decision = d.id;
    el.dataset.state = d.state;
    const signed = d.state === "signed";
    el.replaceChildren(
      h("span", { class: "decision-notice-icon", "aria-hidden": "true" }, signed ? "✍" : "✓"),
      h(
        "span",
        { class: "decision-notice-text" },
        tx(
          signed ? "decision.notice_signed" : "decision.notice_adopted",
          {
            number: d.number,
            name: d.signed_by || "",
          },
          "strong",
        ),
        h("span", { class: "decision-notice-title" }, d.title),
      ),
      h("a", {
        class: "btn btn-small btn-primary",
        href: decisionPage(d.id),
        "data-testid": "decision-notice-link",
        "data-i18n": "decision.open_page",
      }),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-small btn-ghost",
          "data-testid": "decision-notice-close",
          "data-i18n-aria-label": "decision.notice_close",
          onclick: () => (el.hidden = true),
        },
        "×",
      ),
    );
    el.hidden = false;
  }

  live.addEventListener("state", (event) => {
    const d = decisionOfEvent(event.detail);
    if (d) show(d);
  });

  return { el };
}
