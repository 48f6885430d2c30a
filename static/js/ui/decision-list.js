// The decisions of the sitting a page follows: loaded from the register once the
// sitting is known, then kept up to date by the decision.adopted and decision.signed
// events. Each links to its page; `actions(d)` may add buttons (the chair's Sign). The
// list is redrawn only when a decision changes, not with every state change, so what
// its buttons opened stays open.

import { briefDecision, decisionOfEvent, decisionPage, sessionDecisions } from "../decisions.js";
import { h, tx } from "../dom.js";
import { formatTime } from "../i18n.js";

export function decisionStateLine(d) {
  return d.state === "signed"
    ? tx(
        "decision.state.signed",
        { name: d.signed_by || "", time: formatTime(d.signed_at) },
        "span",
        { class: "decision-state signed", "data-testid": "decision-state", "data-state": "signed" },
      )
    : tx("decision.state.adopted", {}, "span", {
        class: "decision-state adopted",
        "data-testid": "decision-state",
        "data-state": "adopted",
      });
}

export function decisionList({ live, actions = null, testid = "session-decisions" }) {
  const el = h("div", { class: "decision-list-wrap", "data-testid": testid });
  const decisions = new Map(); // id → brief
  let loadedFor = null; // the session id loaded (or being loaded)
  let failed = null;

  function item(d) {
    return h(
      "li",
      {
        class: ["decision-item", `decision-${d.state}`],
        "data-testid": `decision-${d.id}`,
        "data-decision": d.id,
        "data-state": d.state,
      },
      h(
        "div",
        { class: "decision-item-body" },
        h(
          "a",
          { class: "decision-item-link", href: decisionPage(d.id) },
          tx("decision.number", { number: d.number }, "strong"),
          h("span", { class: "decision-item-title" }, d.title),
        ),
        decisionStateLine(d),
      ),
      actions ? h("div", { class: "button-row decision-actions" }, actions(d)) : null,
    );
  }

  function render() {
    if (failed) {
      el.replaceChildren(
        h("p", {
          class: "form-error",
          "data-i18n": "load_error",
          "data-i18n-args": { message: failed.message },
        }),
      );
      return;
    }
    const list = [...decisions.values()].sort((a, b) => a.id - b.id);
    el.replaceChildren(
      list.length
        ? h("ol", { class: "decision-list" }, list.map(item))
        : h("p", { class: "empty", "data-i18n": "decision.none_yet" }),
    );
  }

  function upsert(d) {
    decisions.set(d.id, { ...decisions.get(d.id), ...briefDecision(d) });
    render();
  }

  /** Load the sitting's decisions once its state is known. */
  function follow(state) {
    const session = state?.session;
    if (!session || loadedFor === session.id) return;
    loadedFor = session.id;
    failed = null;
    decisions.clear();
    sessionDecisions(session)
      .then((found) => {
        // An event that came meanwhile is newer than the register's answer.
        for (const d of found) if (!decisions.has(d.id)) decisions.set(d.id, d);
      })
      .catch((error) => (failed = error))
      .finally(render);
  }

  live.addEventListener("state", (event) => {
    const d = decisionOfEvent(event.detail);
    if (d) upsert(d);
  });
  render();
  return { el, follow, render, upsert, get: (id) => decisions.get(id) };
}
