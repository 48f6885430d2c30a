// A running vote as everyone may see it: how many have voted of how many present, and
// the time left. Never a count of choices: those exist only after the close.

import { h, tx } from "../dom.js";
import { countdownElement } from "./countdown.js";

/** N voted of M present (M never below N: a deputy may vote and then leave). */
export function progressFigures(state) {
  const voted = state.vote?.voted || 0;
  return { voted, of: Math.max(voted, state.attendance?.count || 0) };
}

/** `countdown: false` where the page shows the time left elsewhere, bigger. */
export function voteProgress(state, { countdown = true } = {}) {
  const { voted, of } = progressFigures(state);
  const share = of ? Math.min(100, (100 * voted) / of) : 0;
  return h(
    "div",
    {
      class: "vote-progress",
      "data-testid": "vote-progress",
      "data-voted": voted,
      "data-of": of,
    },
    h(
      "div",
      { class: "vote-progress-line" },
      tx("vote.progress", { n: voted, m: of }, "span", { class: "vote-progress-text" }),
      countdown ? countdownElement(state.vote?.closes_at) : null,
    ),
    h(
      "div",
      {
        class: "progress-bar",
        role: "progressbar",
        "aria-valuemin": 0,
        "aria-valuemax": of,
        "aria-valuenow": voted,
      },
      h("span", { class: "progress-fill", style: `width:${share}%` }),
    ),
  );
}
