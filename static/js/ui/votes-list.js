// Every vote of the sitting (the state's `votes` section), oldest first, each with its
// outcome; a counted one opens to its full result, loaded from GET /api/votes/{id}.

import { getJSON } from "../api.js";
import { h } from "../dom.js";
import { resultPanel } from "./vote-result.js";
import { kindLabel, OPTIONS, optionLabel, outcomeShortKey } from "./vote-text.js";

const opened = new Set(); // vote ids whose details are open, kept across re-renders
const loaded = new Map(); // "id:state" → the vote record, or an Error

function summary(entry) {
  if (entry.state === "open") return h("span", { class: "tag", "data-i18n": "vote.state.open" });
  if (entry.state === "cancelled") {
    return h("span", { class: "tag", "data-i18n": "vote.state.cancelled" });
  }
  const counts = entry.counts || {};
  const named = OPTIONS.every((o) => o in counts);
  return h(
    "span",
    { class: "votes-summary" },
    h("span", {
      class: `outcome-tag outcome-${entry.result}`,
      "data-testid": "votes-outcome",
      "data-result": entry.result || "",
      "data-i18n": outcomeShortKey(entry.result, !named),
    }),
    named
      ? h(
          "span",
          { class: "muted" },
          OPTIONS.map((o) => `${optionLabel(o)} ${counts[o]}`).join(" · "),
        )
      : null,
  );
}

function details(entry, state) {
  const key = `${entry.id}:${entry.state}:${entry.result}`;
  const body = h("div", { class: "votes-details" });
  const fill = () => {
    const record = loaded.get(key);
    if (!record) body.replaceChildren(h("p", { class: "muted", "data-i18n": "loading" }));
    else if (record instanceof Error) {
      body.replaceChildren(h("p", { class: "form-error", "data-i18n": "vote.load_failed" }));
    } else body.replaceChildren(resultPanel(record, state, { heading: false }));
  };
  const load = () => {
    if (loaded.has(key)) return;
    getJSON(`/api/votes/${entry.id}`)
      .then((record) => loaded.set(key, record))
      .catch((error) => loaded.set(key, error))
      .finally(() => body.isConnected && fill());
  };
  const el = h(
    "details",
    {
      class: "votes-more",
      open: opened.has(entry.id),
      ontoggle: (event) => {
        if (event.currentTarget.open) {
          opened.add(entry.id);
          load();
          fill();
        } else opened.delete(entry.id);
      },
    },
    h("summary", { "data-i18n": "vote.details" }),
    body,
  );
  if (opened.has(entry.id)) {
    load();
    fill();
  }
  return el;
}

export function votesList(state) {
  const votes = state?.votes || [];
  if (!votes.length) {
    return h("p", { class: "empty", "data-testid": "votes-list", "data-i18n": "vote.none_yet" });
  }
  return h(
    "ol",
    { class: "votes-list", "data-testid": "votes-list" },
    votes.map((entry) =>
      h(
        "li",
        {
          class: ["votes-item", entry.id === state.vote?.id && "current"],
          "data-testid": "votes-item",
          "data-vote": entry.id,
          "data-state": entry.state,
        },
        h(
          "p",
          { class: "votes-head" },
          h("span", { class: "votes-question" }, entry.question),
          h("span", { class: "tag" }, kindLabel(entry.kind)),
        ),
        summary(entry),
        entry.result ? details(entry, state) : null,
      ),
    ),
  );
}
