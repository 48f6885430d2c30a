// The chair console's voting card: the "Put to the vote" form, the running vote's
// controls, the chair's own ballot (the chair votes as a deputy), the result once
// counted, and the sitting's votes.

import { h } from "../dom.js";
import { ballotPanel } from "../ui/ballot-panel.js";
import { voteControl } from "../ui/vote-control.js";
import { voteForm } from "../ui/vote-form.js";
import { voteStatus } from "../ui/vote-status.js";
import { votesList } from "../ui/votes-list.js";

export function votingCard({ auth, live, sessionId, send }) {
  const me = auth.user.deputy_id;
  const form = voteForm({ onSubmit: (args, button) => send(button, "vote.open", args) });
  const control = voteControl({ send });
  const ballot = me
    ? ballotPanel({ live, sessionId, me, token: auth.token, overlay: false })
    : null;
  const result = h("div", { class: "vote-result-slot" });
  const list = h("div");
  const el = h(
    "section",
    { class: "card voting-card", "data-testid": "voting-card" },
    h("h2", { class: "card-title", "data-i18n": "vote.title" }),
    h(
      "div",
      { class: "voting-grid" },
      h("div", { class: "stack" }, control.el, result, form.el),
      h(
        "div",
        { class: "stack" },
        ballot ? ballot.el : null,
        h("h3", { class: "sub-title", "data-i18n": "vote.sitting_votes" }),
        list,
      ),
    ),
  );

  function render(state) {
    form.update(state);
    control.update(state);
    ballot?.render(state);
    const counted = ["closed", "cancelled", "pending_chair"].includes(state.vote?.state);
    result.replaceChildren(counted ? voteStatus(state, { me }) : "");
    list.replaceChildren(votesList(state));
  }

  return { el, render };
}
