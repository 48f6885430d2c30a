// "Verify" on a decision's page: the browser checks for itself (static/js/ledger.js)
// that the decision shown is the one in the public ledger, and says how each step went
// and what it all comes to, in the interface language. One element for the page's
// life; `render()` again after a language change.

import { h, tx } from "../dom.js";
import { has, t } from "../i18n.js";
import { verifyDecision } from "../ledger.js";

function reasonText(code, message) {
  const key = `ledger.fail.${code}`;
  return has(key) ? t(key) : t("ledger.fail.other", { message: message || code });
}

function stepFacts(step) {
  const args = {
    key: { name: step.name, id: step.keyId },
    checkpoint: { signer: step.signer, size: step.size, origin: step.origin },
    entry: { hash: String(step.leaf || "").slice(0, 16) },
    inclusion: { n: (step.index ?? 0) + 1, m: step.size },
  }[step.step];
  return tx(`ledger.ok.${step.step}`, args, "span", { class: "ledger-step-facts" });
}

function stepItem(step) {
  return h(
    "li",
    {
      class: ["ledger-step", step.ok ? "ok" : "failed"],
      "data-testid": "verify-step",
      "data-step": step.step,
      "data-ok": String(step.ok),
      "data-code": step.code || "",
    },
    h("span", { class: "status-icon", "aria-hidden": "true" }, step.ok ? "✓" : "✗"),
    h(
      "span",
      { class: "ledger-step-body" },
      h("span", { class: "ledger-step-name", "data-i18n": `ledger.step.${step.step}` }),
      step.ok
        ? stepFacts(step)
        : h("span", { class: "ledger-step-facts" }, reasonText(step.code, step.message)),
    ),
  );
}

function verdictOf(report) {
  if (report.ok) {
    return tx("ledger.verdict_ok", { n: report.index + 1, m: report.size, key: report.signer });
  }
  if (report.pending) return tx("ledger.verdict_pending");
  const step = report.failed ? t(`ledger.step.${report.failed}`) : "";
  return h(
    "span",
    {},
    tx("ledger.verdict_failed", { step }, "strong"),
    " ",
    h("span", {}, reasonText(report.code, report.message)),
  );
}

/** The check of `decision` (GET /api/decisions/{id}); `fetchFn` for the ledger's files. */
export function ledgerCheck(
  decision,
  { fetchFn = (path) => fetch(path, { cache: "no-store" }) } = {},
) {
  const button = h("button", {
    type: "button",
    class: "btn btn-primary",
    "data-testid": "verify",
    "data-i18n": "ledger.verify",
    onclick: () => run(),
  });
  const steps = h("ol", { class: "ledger-steps", "data-testid": "verify-steps" });
  const verdict = h("p", {
    class: "verdict",
    role: "status",
    "data-testid": "verdict",
    hidden: true,
  });
  const el = h(
    "section",
    { class: "card ledger-check", "data-testid": "ledger-check" },
    h("h2", { class: "card-title", "data-i18n": "ledger.title" }),
    h("p", { class: "muted", "data-i18n": "ledger.hint" }),
    h("div", { class: "button-row" }, button),
    steps,
    verdict,
  );
  let report = null;
  let running = false;

  function render() {
    button.disabled = running;
    button.classList.toggle("busy", running);
    steps.replaceChildren(...(report?.steps || []).map(stepItem));
    if (running) {
      verdict.hidden = false;
      verdict.className = "verdict";
      verdict.dataset.ok = "";
      verdict.replaceChildren(tx("ledger.running"));
      return;
    }
    verdict.hidden = !report;
    if (!report) return;
    verdict.className = ["verdict", report.ok ? "ok" : report.pending ? "pending" : "failed"].join(
      " ",
    );
    verdict.dataset.ok = String(report.ok);
    verdict.dataset.code = report.code || "";
    verdict.dataset.index = report.index ?? "";
    verdict.dataset.size = report.size ?? "";
    verdict.replaceChildren(verdictOf(report));
  }

  async function run() {
    running = true;
    report = null;
    render();
    try {
      report = await verifyDecision(decision, fetchFn);
    } finally {
      running = false;
      render();
    }
  }

  render();
  return { el, render };
}
