// Words for a vote: its kind, a choice, the majority rule. Computed at render time in
// the current language (pages re-render on a language change).

import { has, t } from "../i18n.js";

export const OPTIONS = Object.freeze(["yes", "no", "abstain"]);

/** "simple" → "Simple majority"; a council's own kind shows as its key. */
export function kindLabel(kind) {
  return has(`vote.kind.${kind}`) ? t(`vote.kind.${kind}`) : kind;
}

export function candidateName(motion, id) {
  const found = (motion?.candidates || []).find((c) => c.id === id);
  return found ? found.name : id;
}

/** A count's or ballot's option: "yes" → "Yes"; "c2" → the candidate's name. */
export function optionLabel(option, motion) {
  return OPTIONS.includes(option) ? t(`vote.choice.${option}`) : candidateName(motion, option);
}

/** A stored choice, {option} or {candidates: [...]}, in words. */
export function choiceLabel(choice, motion) {
  if (!choice) return "";
  if (choice.option) return optionLabel(choice.option, motion);
  const names = (choice.candidates || []).map((id) => candidateName(motion, id));
  return names.length ? names.join(", ") : t("vote.choice.blank");
}

export function fraction(rule) {
  return rule.denominator === 1 ? String(rule.numerator) : `${rule.numerator}/${rule.denominator}`;
}

/** {numerator: 1, denominator: 2, base: "present", strict: true} → "more than 1/2 of …". */
export function ruleText(rule) {
  if (!rule) return "";
  const text = t(rule.strict ? "vote.rule.strict" : "vote.rule.at_least", {
    frac: fraction(rule),
    base: t(`vote.base.${rule.base}`),
  });
  return rule.constant ? t("vote.rule.plus", { rule: text, n: rule.constant }) : text;
}

export function isElection(vote) {
  return Boolean(vote?.motion?.candidates?.length);
}

/** A short outcome: "Adopted", or for an election "Elected" / "Nobody elected". */
export function outcomeShortKey(result, election) {
  if (election && result !== "pending_chair") {
    return result === "adopted" ? "vote.outcome.elected" : "vote.outcome.none_elected";
  }
  return `vote.outcome_short.${result}`;
}
