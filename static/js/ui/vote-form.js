// The chair's "Put to the vote" form on the current agenda item. One form for the
// page's life (live updates never wipe what the chair is typing): `update(state)`
// refreshes its defaults and says why it is disabled when a vote may not open. Where
// the item has a draft decision, the chair may put the draft to the vote as a whole
// (`draft: true`): adopted, it becomes a decision.

import { h, tx } from "../dom.js";
import { t } from "../i18n.js";
import { kindLabel, ruleText } from "./vote-text.js";

function field(labelKey, control, hintEl = null) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label", "data-i18n": labelKey }),
    control,
    hintEl,
  );
}

/** Why no vote may open now, or null: {key, args}. */
export function whyNoVote(state) {
  if (state.session?.state !== "open") return { key: "vote.form.session_not_open" };
  if (!state.agenda?.current) return { key: "vote.form.no_item" };
  if (["open", "pending_chair"].includes(state.vote?.state)) return { key: "vote.form.running" };
  const a = state.attendance || {};
  if (a.met) return null;
  return { key: "vote.form.no_quorum", args: { present: a.count ?? 0, needed: a.needed ?? "?" } };
}

class FormError extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

/** `onSubmit(args, button)` sends vote.open; resolves truthy on success. */
export function voteForm({ onSubmit }) {
  const question = h("textarea", {
    class: "input",
    rows: 2,
    maxlength: 1000,
    "data-testid": "vote-question-input",
  });
  const kind = h("select", {
    class: "input",
    "data-testid": "vote-kind-select",
    onchange: () => kindChanged(),
  });
  const rule = h("span", { class: "field-hint", "data-testid": "vote-rule" });
  const secrecy = h(
    "select",
    { class: "input", "data-testid": "vote-secret-select" },
    h("option", { value: "named", "data-i18n": "vote.named" }),
    h("option", { value: "secret", "data-i18n": "vote.secret" }),
  );
  const election = h("input", {
    type: "checkbox",
    "data-testid": "vote-election",
    onchange: () => showCandidates(),
  });
  const draft = h("input", {
    type: "checkbox",
    "data-testid": "vote-draft",
    onchange: () => draftChanged(),
  });
  const draftTitle = h("span", { class: "field-hint", "data-testid": "vote-draft-title" });
  const draftRow = h(
    "div",
    { class: "draft-choice", hidden: true },
    h("label", { class: "check" }, draft, h("span", { "data-i18n": "vote.form.draft" })),
    draftTitle,
  );
  const candidates = h("textarea", {
    class: "input",
    rows: 4,
    "data-testid": "vote-candidates",
    "data-i18n-placeholder": "vote.form.candidates_placeholder",
  });
  const maxChoices = h("input", {
    class: "input",
    type: "number",
    min: 1,
    max: 100,
    value: "1",
    "data-testid": "vote-max-choices",
  });
  const timer = h("input", {
    class: "input",
    type: "number",
    min: 0,
    max: 86400,
    step: 1,
    "data-testid": "vote-timer",
    oninput: () => (touched.timer = true),
  });
  const candidateFields = h(
    "div",
    { class: "form-grid", hidden: true },
    field("vote.form.candidates", candidates),
    field("vote.form.max_choices", maxChoices),
  );
  const reason = h("p", { class: "notice", "data-testid": "vote-form-reason", hidden: true });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "vote-form-error" });
  const submit = h("button", {
    type: "submit",
    class: "btn btn-big btn-primary",
    "data-testid": "vote-open",
    "data-i18n": "vote.form.submit",
  });
  const fieldset = h(
    "fieldset",
    { class: "vote-fieldset" },
    draftRow,
    field("vote.form.question", question),
    h(
      "div",
      { class: "form-grid" },
      field("vote.form.kind", kind, rule),
      field("vote.form.secrecy", secrecy),
      field(
        "vote.form.timer",
        timer,
        h("span", { class: "field-hint", "data-i18n": "vote.form.timer_hint" }),
      ),
    ),
    h("label", { class: "check" }, election, h("span", { "data-i18n": "vote.form.election" })),
    candidateFields,
    submit,
  );
  const el = h(
    "form",
    {
      class: "vote-form",
      "data-testid": "vote-form",
      novalidate: true,
      onsubmit: (event) => submitted(event),
    },
    reason,
    fieldset,
    error,
  );
  const touched = { timer: false }; // the chair's own timer stays when the rules change
  let rules = null;
  let rulesKey = "";
  let item = null;
  let itemTitle = ""; // the current item's title, the question by default
  let draftOf = null; // the current item's draft decision: {title} or null

  function kindChanged() {
    const chosen = rules?.vote_kinds?.[kind.value];
    rule.textContent = chosen ? ruleText(chosen) : "";
    secrecy.value = chosen?.secret ? "secret" : "named";
    election.checked = kind.value === "election";
    showCandidates();
  }

  function showCandidates() {
    candidateFields.hidden = !election.checked || draft.checked;
  }

  /** The draft as a whole is voted yes / no / abstain, its title the question. */
  function draftChanged() {
    const on = draft.checked;
    if (on) {
      election.checked = false;
      question.value = draftOf?.title || question.value;
    } else if (draftOf && question.value === draftOf.title) {
      question.value = itemTitle;
    }
    election.disabled = on;
    showCandidates();
  }

  function syncRules(state) {
    const key = JSON.stringify(state.rules || null);
    if (key === rulesKey) return;
    rulesKey = key;
    rules = state.rules || { vote_kinds: {} };
    const before = kind.value;
    kind.replaceChildren(
      ...Object.keys(rules.vote_kinds || {}).map((name) =>
        h("option", { value: name }, kindLabel(name)),
      ),
    );
    if (before && before in rules.vote_kinds) kind.value = before;
    kindChanged();
    if (!touched.timer) timer.value = String(rules.timer_seconds ?? 0);
  }

  function syncItem(state) {
    const current = state.agenda?.current ?? null;
    const found = (state.agenda?.items || []).find((i) => i.id === current);
    const draftNow = found?.draft || null;
    if (current === item && draftNow?.title === draftOf?.title) return;
    const newItem = current !== item;
    item = current; // a new item: its title is the question, unless the chair edits it
    itemTitle = found ? found.title : "";
    draftOf = draftNow;
    draftRow.hidden = !draftOf;
    draftTitle.textContent = draftOf ? draftOf.title : "";
    if (newItem || !draftOf) {
      draft.checked = false;
      election.disabled = false;
      question.value = itemTitle;
    }
    showCandidates();
  }

  function args() {
    const text = question.value.trim();
    const onDraft = draft.checked && Boolean(draftOf);
    // On the draft, an empty question is the draft's title (the server puts it).
    if (!text && !onDraft) throw new FormError("form_question");
    const out = { kind: kind.value, secret: secrecy.value === "secret" };
    if (text) out.question = text;
    if (onDraft) out.draft = true;
    const seconds = Number(timer.value || 0);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 86400)
      throw new FormError("form_timer");
    out.timer_seconds = seconds;
    if (election.checked && !onDraft) {
      const names = candidates.value
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
      if (!names.length) throw new FormError("form_candidates");
      if (new Set(names).size !== names.length) throw new FormError("form_duplicates");
      const max = Number(maxChoices.value || 1);
      if (!Number.isInteger(max) || max < 1 || max > names.length)
        throw new FormError("form_max_choices");
      Object.assign(out, { candidates: names, max_choices: max });
    }
    return out;
  }

  async function submitted(event) {
    event.preventDefault();
    error.textContent = "";
    let payload;
    try {
      payload = args();
    } catch (failure) {
      error.textContent = t(`err.${failure.code}`);
      return;
    }
    if (await onSubmit(payload, submit)) {
      candidates.value = "";
      if (payload.draft) {
        // Put once: the next vote on the item is an ordinary question unless re-chosen.
        draft.checked = false;
        draftChanged();
      }
    }
  }

  function update(state) {
    syncRules(state);
    syncItem(state);
    const why = whyNoVote(state);
    fieldset.disabled = Boolean(why);
    reason.hidden = !why;
    reason.dataset.reason = why ? why.key.split(".").pop() : "";
    reason.replaceChildren(why ? tx(why.key, why.args) : "");
    // The kinds' names and rules follow the interface language.
    for (const option of kind.options) option.textContent = kindLabel(option.value);
    const chosen = rules?.vote_kinds?.[kind.value];
    rule.textContent = chosen ? ruleText(chosen) : "";
  }

  return { el, update };
}
