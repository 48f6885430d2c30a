// The result of a counted vote, everything a citizen needs to recompute it: the counts,
// the outcome, the rule in words with its base, value and threshold, who was present,
// who did not vote, and the published ballots. Shared by every page.

import { h, tx } from "../dom.js";
import { t } from "../i18n.js";
import { groupReceipt } from "../receipt.js";
import { deputyName } from "./names.js";
import { namedBallots, namedRows, receiptList, receiptRows } from "./vote-ballots.js";
import { voteHeading } from "./vote-heading.js";
import {
  candidateName,
  choiceLabel,
  isElection,
  OPTIONS,
  optionLabel,
  ruleText,
} from "./vote-text.js";

function outcomeKey(result) {
  if (result.result === "pending_chair") return "vote.outcome.pending_chair";
  if (result.motion?.type === "election") {
    return result.elected?.length ? "vote.outcome.elected" : "vote.outcome.none_elected";
  }
  return `vote.outcome.${result.result}`;
}

function tieNote(result) {
  if (result.chair_decision) {
    return tx("vote.tie_decided", { choice: optionLabel(result.chair_decision) }, "p");
  }
  if (result.tie && result.result === "pending_chair") return tx("vote.tie_pending", {}, "p");
  if (result.tie) return tx("vote.tie_fails", {}, "p");
  return null;
}

function outcomeBanner(vote) {
  const result = vote.result;
  const elected = (result.elected || []).map((id) => candidateName(vote.motion, id));
  const tied = (result.tied || []).map((id) => candidateName(vote.motion, id));
  return h(
    "div",
    {
      class: `outcome outcome-${result.result}`,
      "data-testid": "result-outcome",
      "data-result": result.result,
      role: "status",
    },
    h("p", { class: "outcome-word", "data-i18n": outcomeKey(result) }),
    elected.length
      ? tx("vote.elected_names", { names: elected.join(", ") }, "p", { class: "outcome-names" })
      : null,
    tied.length ? tx("vote.tied_names", { names: tied.join(", ") }, "p") : null,
    tieNote(result),
  );
}

function countRows(vote) {
  const result = vote.result;
  const counts = result.counts || {};
  const options = isElection(vote) ? vote.motion.candidates.map((c) => c.id) : OPTIONS;
  const rows = options.map((option) => ({ option, value: counts[option] ?? 0 }));
  if (isElection(vote)) rows.push({ option: "blank", value: result.blank ?? 0 });
  return rows;
}

function countBars(vote) {
  const result = vote.result;
  const rows = countRows(vote);
  const values = rows.map((r) => r.value);
  const scale = Math.max(1, result.eligible || 0, result.base_value || 0, ...values);
  const mark = (100 * (result.threshold || 0)) / scale;
  const marked = (option) => option === "yes" || (isElection(vote) && option !== "blank");
  return h(
    "ul",
    { class: "count-bars", "data-testid": "result-counts" },
    rows.map(({ option, value }) =>
      h(
        "li",
        { class: `count-row count-${option}`, "data-option": option },
        h(
          "span",
          { class: "count-label" },
          option === "blank" ? tx("vote.choice.blank") : optionLabel(option, vote.motion),
        ),
        h(
          "span",
          { class: "count-bar", "aria-hidden": "true" },
          h("span", { class: "count-fill", style: `width:${(100 * value) / scale}%` }),
          marked(option) ? h("span", { class: "count-mark", style: `left:${mark}%` }) : null,
        ),
        h("span", { class: "count-value", "data-testid": `count-${option}` }, value),
      ),
    ),
  );
}

function fact(labelKey, value, testid = null) {
  return [h("dt", { "data-i18n": labelKey }), h("dd", { "data-testid": testid }, value)];
}

function facts(vote) {
  const r = vote.result;
  const rule = r.rule || vote.rule;
  const exact = String(r.threshold_exact ?? "");
  return h(
    "dl",
    { class: "facts", "data-testid": "result-facts" },
    fact("vote.fact.rule", ruleText(rule), "result-rule"),
    fact(
      "vote.fact.base",
      t("vote.base_value", { base: t(`vote.base_name.${rule.base}`), n: r.base_value }),
      "result-base",
    ),
    fact(
      "vote.fact.threshold",
      tx(exact && exact !== String(r.threshold) ? "vote.threshold_exact" : "vote.threshold", {
        n: r.threshold,
        exact,
      }),
      "result-threshold",
    ),
    fact("vote.fact.present", `${r.present} / ${r.seats}`, "result-present"),
    fact("vote.fact.cast", String(r.cast), "result-cast"),
  );
}

function notVoted(vote, state) {
  const ids = (vote.result.not_voted || []).map(Number);
  return h(
    "div",
    { class: "not-voted", "data-testid": "not-voted", "data-count": ids.length },
    tx("vote.not_voted", { n: ids.length }, "h4", { class: "sub-title" }),
    ids.length
      ? h("p", { class: "name-list" }, ids.map((id) => deputyName(state, id)).join(", "))
      : null,
  );
}

/**
 * "Your ballot was counted as: …" for this tablet's deputy (named) or receipt (secret).
 * A receipt the tablet knows was acknowledged (`sure`) and is missing from the published
 * list is a warning; an unacknowledged one (a cast that failed) is simply not shown.
 */
function myCount(vote, { me, myReceipt, sure }) {
  let found = null;
  if (vote.secret && myReceipt) {
    found = receiptRows(vote).find((b) => b.receipt === myReceipt);
    if (!found && sure) {
      return tx("vote.receipt_missing", { code: groupReceipt(myReceipt) }, "p", {
        class: "my-count warn",
        "data-testid": "my-counted-as",
        "data-found": "false",
      });
    }
  } else if (!vote.secret && me) {
    found = namedRows(vote).find((b) => b.deputy === me);
  }
  if (!found) return null;
  return h(
    "p",
    { class: "my-count", "data-testid": "my-counted-as", "data-found": "true" },
    h("span", { "data-i18n": "vote.counted_as" }),
    " ",
    h("strong", {}, choiceLabel(found.choice, vote.motion)),
    vote.secret ? h("code", { class: "receipt-code" }, groupReceipt(myReceipt)) : null,
  );
}

/**
 * The result panel for a counted vote (`vote.result` set), or null before.
 * Options: `me` (the deputy id on this tablet), `myReceipt` (this tablet's secret code;
 * `sure`: its ballot was acknowledged), `heading` (show the question), `ballots` (show
 * the published ballots).
 */
export function resultPanel(vote, state, options = {}) {
  const { me = null, myReceipt = null, sure = false, heading = true, ballots = true } = options;
  if (!vote?.result) return null;
  return h(
    "section",
    {
      class: "vote-result",
      "data-testid": "vote-result",
      "data-vote": vote.id,
      "data-result": vote.result.result,
    },
    heading ? voteHeading(vote) : null,
    outcomeBanner(vote),
    myCount(vote, { me, myReceipt, sure }),
    countBars(vote),
    facts(vote),
    notVoted(vote, state),
    ballots && vote.ballots?.named ? namedBallots(vote, state, { me }) : null,
    ballots && vote.ballots?.receipts ? receiptList(vote, { mine: myReceipt }) : null,
  );
}
