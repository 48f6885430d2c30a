// The session's title block: council, title, number and date, state.

import { h, tx } from "../dom.js";
import { formatDate } from "../i18n.js";

export function stateBadge(state, attrs = {}) {
  return h("span", {
    class: `badge badge-${state}`,
    "data-state": state,
    "data-i18n": `state.${state}`,
    ...attrs,
  });
}

export function sessionHeader(state, extra = null) {
  const session = state.session || {};
  return h(
    "section",
    { class: "session-header", "data-testid": "session-header" },
    h("p", { class: "council-name", "data-testid": "council-name" }, state.council?.name || ""),
    h("h1", { class: "session-title", "data-testid": "session-title" }, session.title || ""),
    h(
      "p",
      { class: "session-meta" },
      tx("session.number", { n: session.number }),
      h("span", { class: "dot", "aria-hidden": "true" }, "·"),
      h("span", {}, formatDate(session.date)),
      stateBadge(session.state, { "data-testid": "session-state" }),
    ),
    extra,
  );
}
