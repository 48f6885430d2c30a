// One line about a sitting's current or latest vote, for the portal's session cards:
// while open only "voted N of M", never counts; after the close the outcome.

import { h, tx } from "../dom.js";
import { voteProgress } from "./vote-progress.js";
import { OPTIONS, optionLabel, outcomeShortKey } from "./vote-text.js";

export function voteBrief(state) {
  const vote = state?.vote;
  if (!vote) return null;
  const head = (key) =>
    h(
      "span",
      { class: "vote-brief-head" },
      h("span", { class: "vote-brief-label", "data-i18n": key }),
      h("span", { class: "vote-brief-question" }, vote.question),
    );
  const wrap = (...content) =>
    h(
      "span",
      {
        class: `vote-brief vote-brief-${vote.state}`,
        "data-testid": "vote-brief",
        "data-state": vote.state,
        "data-vote": vote.id,
      },
      ...content,
    );
  if (vote.state === "open") return wrap(head("vote.brief.open"), voteProgress(state));
  if (vote.state === "cancelled") return wrap(head("vote.brief.cancelled"));
  const result = vote.result || {};
  const counts = result.counts || {};
  return wrap(
    head("vote.brief.latest"),
    h(
      "span",
      { class: "votes-summary" },
      h("span", {
        class: `outcome-tag outcome-${result.result}`,
        "data-testid": "vote-brief-outcome",
        "data-result": result.result || "",
        "data-i18n": outcomeShortKey(result.result, result.motion?.type === "election"),
      }),
      result.motion?.type === "yes_no"
        ? h(
            "span",
            { class: "muted" },
            OPTIONS.map((o) => `${optionLabel(o)} ${counts[o] ?? 0}`).join(" · "),
          )
        : tx("vote.cast_n", { n: result.cast ?? 0 }, "span", { class: "muted" }),
    ),
  );
}
