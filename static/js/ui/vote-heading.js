// A vote's heading: the question with its kind, named or secret, on a draft decision
// or not, and its state.

import { h } from "../dom.js";
import { kindLabel, ruleText } from "./vote-text.js";

export function voteBadges(vote) {
  return h(
    "p",
    { class: "vote-badges" },
    h("span", { class: "tag tag-kind", "data-testid": "vote-kind" }, kindLabel(vote.kind)),
    h("span", {
      class: ["tag", vote.secret ? "tag-secret" : "tag-named"],
      "data-testid": "vote-secrecy",
      "data-secret": String(Boolean(vote.secret)),
      "data-i18n": vote.secret ? "vote.secret" : "vote.named",
    }),
    vote.draft
      ? h("span", {
          class: "tag tag-draft",
          "data-testid": "vote-draft-tag",
          "data-i18n": "vote.draft_tag",
        })
      : null,
    h("span", {
      class: `tag tag-state vote-state-${vote.state}`,
      "data-testid": "vote-state",
      "data-state": vote.state,
      "data-i18n": `vote.state.${vote.state}`,
    }),
  );
}

export function voteHeading(vote, { level = "h3", rule = true } = {}) {
  return h(
    "div",
    { class: "vote-heading" },
    voteBadges(vote),
    h(level, { class: "vote-question", "data-testid": "vote-question" }, vote.question),
    rule && vote.rule ? h("p", { class: "muted vote-rule" }, ruleText(vote.rule)) : null,
  );
}
