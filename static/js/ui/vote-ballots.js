// The published ballots of a counted vote: for a named vote each deputy's choice, for a
// secret vote the receipt codes with their choices (and a box to find one's own code).

import { h, tx } from "../dom.js";
import { groupReceipt, normalizeReceipt } from "../receipt.js";
import { deputyName } from "./names.js";
import { choiceLabel } from "./vote-text.js";

const queries = new Map(); // vote id → what was typed in its search box

// The server publishes pairs, to keep a frame that goes to every screen small:
// [deputy, choice] and [receipt, choice], a choice being an option ("yes") or the
// candidates chosen (["c1", "c3"]; none: a blank ballot).
function asChoice(choice) {
  return typeof choice === "string" ? { option: choice } : { candidates: choice };
}

// Published grouped by choice: [[choice, [deputy or receipt, …]], …].
export function namedRows(vote) {
  return (vote.ballots?.named || []).flatMap(([choice, deputies]) =>
    deputies.map((deputy) => ({ deputy, choice: asChoice(choice) })),
  );
}

export function receiptRows(vote) {
  return (vote.ballots?.receipts || []).flatMap(([choice, receipts]) =>
    receipts.map((receipt) => ({ receipt, choice: asChoice(choice) })),
  );
}

function choiceTag(choice, motion) {
  const option = choice?.option || (choice?.candidates?.length ? "candidates" : "blank");
  return h(
    "span",
    { class: `choice-tag choice-${option}`, "data-choice": option },
    choiceLabel(choice, motion),
  );
}

function seatOf(state, id) {
  return (state.deputies || []).find((d) => d.id === id)?.seat ?? "";
}

export function namedBallots(vote, state, { me = null } = {}) {
  const rows = namedRows(vote).sort(
    (a, b) => (seatOf(state, a.deputy) || 0) - (seatOf(state, b.deputy) || 0),
  );
  return h(
    "div",
    { class: "ballots" },
    h("h4", { class: "sub-title", "data-i18n": "vote.ballots_named" }),
    h(
      "ul",
      { class: "ballot-list", "data-testid": "named-ballots" },
      rows.map((b) =>
        h(
          "li",
          {
            class: ["ballot-row", b.deputy === me && "mine"],
            "data-deputy": b.deputy,
            "data-choice": b.choice?.option || "",
          },
          h("span", { class: "ballot-seat" }, seatOf(state, b.deputy)),
          h("span", { class: "ballot-name" }, deputyName(state, b.deputy)),
          choiceTag(b.choice, vote.motion),
        ),
      ),
    ),
  );
}

export function receiptList(vote, { mine = null } = {}) {
  const rows = receiptRows(vote);
  const empty = h("p", { class: "empty", hidden: true, "data-i18n": "vote.receipt_none" });
  const list = h(
    "ul",
    { class: "ballot-list receipt-list", "data-testid": "receipt-list" },
    rows.map((b) =>
      h(
        "li",
        {
          class: ["ballot-row", b.receipt === mine && "mine"],
          "data-testid": "receipt-row",
          "data-receipt": b.receipt,
          "aria-current": b.receipt === mine ? "true" : null,
        },
        h("code", { class: "receipt-code" }, groupReceipt(b.receipt)),
        choiceTag(b.choice, vote.motion),
        b.receipt === mine ? tx("vote.receipt_yours", {}, "span", { class: "tag tag-mine" }) : null,
      ),
    ),
  );
  const filter = (text) => {
    queries.set(vote.id, text);
    const wanted = normalizeReceipt(text);
    let shown = 0;
    for (const row of list.children) {
      row.hidden = Boolean(wanted) && !row.dataset.receipt.includes(wanted);
      if (!row.hidden) shown += 1;
    }
    empty.hidden = shown > 0;
  };
  const search = h("input", {
    class: "input receipt-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    value: queries.get(vote.id) || "",
    "data-testid": "receipt-search",
    "data-focus-key": `receipt-search-${vote.id}`,
    "data-i18n-placeholder": "vote.receipt_search",
    "data-i18n-aria-label": "vote.receipt_search",
    oninput: (event) => filter(event.target.value),
  });
  if (search.value) filter(search.value);
  return h(
    "div",
    { class: "ballots" },
    h("h4", { class: "sub-title", "data-i18n": "vote.ballots_secret" }),
    h("p", { class: "muted small", "data-i18n": "vote.receipts_hint" }),
    search,
    list,
    empty,
  );
}
