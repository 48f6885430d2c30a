// The current or latest vote as the public and the members follow it: while it is open
// only the progress (never partial counts); once counted the result; if cancelled, why.

import { h, tx } from "../dom.js";
import { voteHeading } from "./vote-heading.js";
import { voteProgress } from "./vote-progress.js";
import { resultPanel } from "./vote-result.js";

export function voteStatus(state, options = {}) {
  const vote = state?.vote;
  if (!vote) {
    return h("p", {
      class: "empty",
      "data-testid": "vote-status",
      "data-state": "none",
      "data-i18n": "vote.none",
    });
  }
  const wrap = (...content) =>
    h(
      "div",
      {
        class: "vote-status",
        "data-testid": "vote-status",
        "data-state": vote.state,
        "data-vote": vote.id,
      },
      ...content,
    );
  if (vote.state === "open") return wrap(voteHeading(vote), voteProgress(state));
  if (vote.state === "cancelled") {
    return wrap(
      voteHeading(vote),
      tx("vote.cancelled_reason", { reason: vote.cancel_reason || "" }, "p", {
        class: "notice",
        "data-testid": "vote-cancelled",
      }),
    );
  }
  return wrap(resultPanel(vote, state, options));
}
