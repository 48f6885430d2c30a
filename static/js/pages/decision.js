// /decisions/{id}: a council decision for everyone: its number, title and full text, the
// sitting and the vote that adopted it, whether the chair has signed it, its documents
// (PDF, the signature, the signed bytes), and a check against the public ledger made
// by the browser itself. No sign-in.

import { getJSON } from "../api.js";
import { decisionCanonical, decisionPdf, decisionSignature } from "../decisions.js";
import { h, tx } from "../dom.js";
import { formatDate, formatTime, onLangChange } from "../i18n.js";
import { pageShell } from "../shell.js";
import { ledgerCheck } from "../ui/ledger-check.js";
import { OPTIONS, optionLabel } from "../ui/vote-text.js";

const id = Number(location.pathname.split("/").filter(Boolean).pop());
const { main } = pageShell(null);
let decision = null;
let failure = null; // {key, args}
let check = null;

/** Back to the register: to the search the reader came from, if they came from one. */
function registerLink() {
  let href = "/#register";
  try {
    const from = new URL(document.referrer);
    if (from.origin === location.origin && from.pathname === "/") href = `/${from.search}#register`;
  } catch {
    // no referrer
  }
  return h("a", { href, class: "back-link", "data-i18n": "decision.register" });
}

/** The text as paragraphs: a blank line between them; single line breaks kept. */
function paragraphs(text) {
  return String(text || "")
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => h("p", { class: "decision-paragraph" }, p));
}

function stateLine(d) {
  const signed = d.state === "signed" && d.signature;
  return h(
    "p",
    {
      class: ["decision-state", signed ? "signed" : "adopted"],
      "data-testid": "decision-state",
      "data-state": signed ? "signed" : "adopted",
    },
    signed
      ? tx("decision.state.signed", {
          name: d.signature.signer,
          time: formatTime(d.signature.signed_at),
        })
      : tx("decision.state.adopted"),
  );
}

function voteLine(vote) {
  const counts = vote.counts || {};
  return h(
    "span",
    { class: "decision-vote", "data-testid": "decision-vote" },
    h("span", {
      class: `outcome-tag outcome-${vote.result}`,
      "data-result": vote.result || "",
      "data-i18n": `vote.outcome_short.${vote.result}`,
    }),
    " ",
    h(
      "span",
      { class: "muted" },
      OPTIONS.map((o) => `${optionLabel(o)} ${counts[o] ?? 0}`).join(" · "),
    ),
  );
}

function facts(d) {
  const fact = (key, value) => [h("dt", { "data-i18n": key }), h("dd", {}, value)];
  const s = d.session || {};
  return h(
    "dl",
    { class: "facts decision-facts" },
    fact("decision.f.council", d.council?.name || ""),
    fact(
      "decision.f.sitting",
      h(
        "a",
        { href: `/watch/${s.id}`, "data-testid": "decision-sitting" },
        tx("session.number", { n: s.number }),
        s.title ? `: ${s.title}` : "",
        s.date ? `, ${formatDate(s.date)}` : "",
      ),
    ),
    d.item ? fact("decision.f.item", `${d.item.position}. ${d.item.title}`) : null,
    fact(
      "decision.f.adopted",
      h(
        "span",
        { "data-testid": "decision-adopted" },
        formatDate(d.adopted_on),
        d.adopted_at ? `, ${formatTime(d.adopted_at).slice(11)}` : "", // the time of day
      ),
    ),
    fact("decision.f.vote", voteLine(d.vote || {})),
    d.vote?.present !== undefined
      ? fact(
          "decision.f.present",
          tx("decision.present", { present: d.vote.present, seats: d.vote.seats }),
        )
      : null,
  );
}

function documents(d) {
  const link = (href, key, testid, download) =>
    h(
      "a",
      { class: "btn btn-ghost btn-download", href, download, "data-testid": testid },
      h("span", { class: "download-icon", "aria-hidden": "true" }, "⤓"),
      h("span", { "data-i18n": key }),
    );
  const file = String(d.number || d.id).replace(/[^\p{L}\p{N}-]+/gu, "-");
  return h(
    "p",
    { class: "button-row downloads" },
    link(decisionPdf(d.id), "decision.pdf", "decision-pdf", `decision-${file}.pdf`),
    d.state === "signed"
      ? link(
          decisionSignature(d.id),
          "decision.signature_file",
          "decision-signature",
          `decision-${file}.p7s`,
        )
      : null,
    link(
      decisionCanonical(d.id),
      "decision.canonical",
      "decision-canonical",
      `decision-${file}.json`,
    ),
  );
}

function render() {
  if (failure) {
    main.replaceChildren(
      h("p", {
        class: "placeholder",
        "data-testid": "decision-missing",
        "data-i18n": failure.key,
        "data-i18n-args": failure.args || {},
      }),
    );
    return;
  }
  if (!decision) {
    main.replaceChildren(h("p", { class: "placeholder", "data-i18n": "loading" }));
    return;
  }
  const d = decision;
  check ??= ledgerCheck(d);
  check.render();
  document.title = `${d.number} · ${d.title}`;
  main.replaceChildren(
    h(
      "div",
      { class: "decision-layout", "data-testid": "decision", "data-decision": d.id },
      h("p", {}, registerLink()),
      h(
        "article",
        { class: "card decision-card" },
        h("p", { class: "council-name", "data-testid": "decision-council" }, d.council?.name || ""),
        tx("decision.number", { number: d.number }, "p", {
          class: "decision-number",
          "data-testid": "decision-number",
        }),
        h("h1", { class: "decision-title", "data-testid": "decision-title" }, d.title),
        stateLine(d),
        facts(d),
        h("h2", { class: "sub-title", "data-i18n": "decision.text" }),
        h("div", { class: "decision-text", "data-testid": "decision-text" }, paragraphs(d.text)),
        documents(d),
      ),
      check.el,
    ),
  );
}

onLangChange(render);
render();
if (!Number.isInteger(id) || id <= 0) {
  failure = { key: "decision.not_found" };
  render();
} else {
  getJSON(`/api/decisions/${id}`)
    .then((d) => (decision = d))
    .catch((error) => {
      failure =
        error.status === 404
          ? { key: "decision.not_found" }
          : { key: "load_error", args: { message: error.message } };
    })
    .finally(render);
}
