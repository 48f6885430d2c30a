// The sign-in audit trail for the secretariat (GET /api/audit): newest first, filters
// (kind, outcome, method, from/to dates), "Load more" with `before`, and the same rows
// as CSV (GET /api/audit.csv), fetched with the bearer token and saved as a file: the
// token never goes in an address.

import { ApiError, getJSON } from "../api.js";
import { h } from "../dom.js";
import { formatTime, has } from "../i18n.js";
import { messageArea } from "./feedback.js";

const PAGE = 50;
const CSV_LIMIT = 1000;
const CHOICES = {
  kind: [
    "sign_in",
    "sign_out",
    "sign_ins_ended",
    "face_enrolled",
    "face_removed",
    "face_check",
    "ingest_key_made",
    "ingest_key_revoked",
    "ingest_key_used",
  ],
  outcome: ["ok", "refused"],
  method: ["demo", "eimzo", "oneid", "face", "ingest_key"],
};

/** A local date ("2026-12-01") as the UTC time its local midnight is, `days` later. */
function localMidnight(date, days = 0) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

function selectOf(name) {
  return h(
    "select",
    { class: "input", name, "data-testid": `audit-${name}` },
    h("option", { value: "", "data-i18n": "audit.any" }),
    CHOICES[name].map((value) => h("option", { value, "data-i18n": `audit.${name}.${value}` })),
  );
}

function labelled(key, control) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label", "data-i18n": key }),
    control,
  );
}

/** The reason, translated where it is a known code; the code itself otherwise. */
function reasonCell(reason) {
  if (!reason) return h("span");
  const key = `audit.reason.${reason}`;
  return has(key)
    ? h("span", { class: "audit-reason", "data-reason": reason, "data-i18n": key })
    : h("span", { class: "audit-reason", "data-reason": reason }, reason);
}

function entryRow(e) {
  const user = e.user ? `${e.user.name} (${e.user.login})` : "–";
  return h(
    "tr",
    {
      "data-testid": "audit-row",
      "data-id": e.id,
      "data-kind": e.kind,
      "data-outcome": e.outcome,
      "data-login": e.user?.login || "",
    },
    h("td", { class: "audit-time" }, formatTime(e.at)),
    h("td", { "data-i18n": `audit.kind.${e.kind}` }),
    e.method ? h("td", { "data-i18n": `audit.method.${e.method}` }) : h("td", {}, "–"),
    h(
      "td",
      {},
      h("span", {
        class: ["tag", e.outcome === "refused" && "tag-refused"],
        "data-i18n": `audit.outcome.${e.outcome}`,
      }),
      " ",
      reasonCell(e.reason),
      // A face check's distance to the enrolled face (smaller: more alike).
      typeof e.distance === "number"
        ? h("span", {
            class: "audit-distance muted",
            "data-testid": "audit-distance",
            "data-i18n": "audit.distance",
            "data-i18n-args": { d: e.distance.toFixed(3) },
          })
        : null,
    ),
    h("td", {}, user),
    h("td", {}, e.address || "–"),
    h("td", { class: "audit-device", title: e.user_agent || "" }, e.user_agent || "–"),
  );
}

/** The audit part: `auth` is the page's {token, user}. */
export function auditTrail({ auth }) {
  const message = messageArea();
  const kind = selectOf("kind");
  const outcome = selectOf("outcome");
  const method = selectOf("method");
  const from = h("input", { class: "input", type: "date", "data-testid": "audit-from" });
  const to = h("input", { class: "input", type: "date", "data-testid": "audit-to" });
  const rows = h("tbody", { "data-testid": "audit-rows" });
  const empty = h("p", {
    class: "empty",
    "data-testid": "audit-empty",
    "data-i18n": "audit.none",
  });
  const more = h("button", {
    class: "btn btn-ghost",
    "data-testid": "audit-more",
    "data-i18n": "audit.more",
    onclick: () => load(false),
  });
  const csv = h("button", {
    class: "btn btn-ghost btn-download",
    "data-testid": "audit-csv",
    "data-i18n": "audit.csv",
    onclick: download,
  });
  let last = null; // the id of the last row shown
  let generation = 0; // a newer load makes an older one's answer moot

  function filters() {
    const params = new URLSearchParams();
    for (const select of [kind, outcome, method]) {
      if (select.value) params.set(select.name, select.value);
    }
    if (from.value) params.set("from", localMidnight(from.value));
    if (to.value) params.set("to", localMidnight(to.value, 1)); // the whole "to" day
    return params;
  }

  async function load(fresh) {
    const mine = ++generation;
    const params = filters();
    params.set("limit", String(PAGE));
    if (!fresh && last !== null) params.set("before", String(last));
    let page;
    try {
      page = await getJSON(`/api/audit?${params}`, { token: auth.token });
    } catch (error) {
      if (mine === generation) message.error(error);
      return;
    }
    if (mine !== generation) return;
    message.clear();
    if (fresh) rows.replaceChildren();
    rows.append(...page.map(entryRow));
    if (page.length) last = page[page.length - 1].id;
    else if (fresh) last = null;
    empty.hidden = rows.children.length > 0;
    more.hidden = page.length < PAGE;
  }

  async function download() {
    csv.disabled = true;
    try {
      const params = filters();
      params.set("limit", String(CSV_LIMIT)); // the most the server gives at once
      const response = await fetch(`/api/audit.csv?${params}`, {
        headers: { Authorization: `Bearer ${auth.token}` },
      });
      if (!response.ok) {
        const data = await response.json().catch(() => null);
        const error = data?.error || {};
        throw new ApiError(response.status, error.code || "http_error", error.message);
      }
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: "audit.csv", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      message.error(error);
    } finally {
      csv.disabled = false;
    }
  }

  const reload = () => load(true);
  for (const control of [kind, outcome, method, from, to]) {
    control.addEventListener("change", reload);
  }

  const el = h(
    "section",
    { class: "card card-wide audit-trail", "data-testid": "audit-trail" },
    h("h2", { class: "card-title", "data-i18n": "audit.title" }),
    h(
      "div",
      { class: "audit-filters", "data-testid": "audit-filters" },
      labelled("audit.f.kind", kind),
      labelled("audit.f.outcome", outcome),
      labelled("audit.f.method", method),
      labelled("audit.f.from", from),
      labelled("audit.f.to", to),
      h("div", { class: "button-row" }, csv),
    ),
    message.el,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table audit-table", "data-testid": "audit-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["time", "kind", "method", "outcome", "user", "address", "device"].map((c) =>
              h("th", { "data-i18n": `audit.col.${c}` }),
            ),
          ),
        ),
        rows,
      ),
    ),
    empty,
    more,
  );
  more.hidden = true;
  empty.hidden = true;
  reload();
  return { el, reload };
}
