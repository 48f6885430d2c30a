// The register of decisions on the portal: search by words, council, dates and number
// (GET /api/decisions), the results a page at a time, each linking to its decision's
// page. The search is kept in the address (?q=…&council=…), so a link to it, or coming
// back from a decision, shows the same results. One element for the page's life:
// `setCouncils(list)` fills the council choice, `render()` again on a language change.

import { decisionPage, PER_PAGE, searchDecisions } from "../decisions.js";
import { h, tx } from "../dom.js";
import { formatDate, has, t } from "../i18n.js";

const FIELDS = ["q", "council", "from", "to", "number"];

function labelled(key, control) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label", "data-i18n": key }),
    control,
  );
}

function errorText(error) {
  const key = `register.err.${error.code}`;
  return has(key) ? t(key) : t("register.err.other", { message: error.message || error.code });
}

function resultItem(d) {
  return h(
    "li",
    { class: "register-item", "data-testid": "register-item", "data-decision": d.id },
    h(
      "a",
      { class: "register-link", href: decisionPage(d.id) },
      h(
        "span",
        { class: "register-top" },
        tx("decision.number", { number: d.number }, "span", { class: "register-number" }),
        h("span", {
          class: `tag decision-tag decision-tag-${d.state}`,
          "data-state": d.state,
          "data-i18n": `decision.short.${d.state}`,
        }),
      ),
      h("span", { class: "register-title" }, d.title),
      h(
        "span",
        { class: "muted register-meta" },
        d.council?.name || "",
        d.adopted_on ? ` · ${formatDate(d.adopted_on)}` : "",
      ),
    ),
  );
}

export function decisionRegister() {
  const inputs = {
    q: h("input", {
      class: "input",
      type: "search",
      name: "q",
      "data-testid": "register-q",
      "data-focus-key": "register-q",
      "data-i18n-placeholder": "register.q_placeholder",
    }),
    council: h(
      "select",
      { class: "input", name: "council", "data-testid": "register-council" },
      h("option", { value: "", "data-i18n": "register.any_council" }),
    ),
    from: h("input", {
      class: "input",
      type: "date",
      name: "from",
      "data-testid": "register-from",
    }),
    to: h("input", { class: "input", type: "date", name: "to", "data-testid": "register-to" }),
    number: h("input", {
      class: "input",
      name: "number",
      "data-testid": "register-number",
      "data-i18n-placeholder": "register.number_placeholder",
    }),
  };
  const results = h("div", { class: "register-results", "data-testid": "register-results" });
  const form = h(
    "form",
    {
      class: "register-form",
      role: "search",
      "data-testid": "register-form",
      onsubmit: (event) => {
        event.preventDefault();
        search(1);
      },
    },
    labelled("register.q", inputs.q),
    h(
      "div",
      { class: "register-fields" },
      labelled("register.council", inputs.council),
      labelled("register.from", inputs.from),
      labelled("register.to", inputs.to),
      labelled("register.number", inputs.number),
    ),
    h(
      "div",
      { class: "button-row" },
      h("button", {
        type: "submit",
        class: "btn btn-primary",
        "data-testid": "register-submit",
        "data-i18n": "register.search",
      }),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-testid": "register-clear",
        "data-i18n": "register.clear",
        onclick: () => {
          for (const input of Object.values(inputs)) input.value = "";
          wantedCouncil = "";
          search(1);
        },
      }),
    ),
  );
  const el = h(
    "section",
    { class: "portal-section register", id: "register", "data-testid": "register" },
    h("h2", { class: "section-title", "data-i18n": "register.title" }),
    h("div", { class: "card" }, form, results),
  );
  let answer = null; // the last page shown
  let error = null;
  let busy = false;
  let generation = 0;
  let wantedCouncil = "";

  function fields() {
    const out = {};
    for (const name of FIELDS) out[name] = inputs[name].value.trim();
    out.council ||= wantedCouncil; // from the address, before the councils are listed
    return out;
  }

  /** The search in the address, without a reload (replaceState: no history per page). */
  function remember(page) {
    const url = new URL(location.href);
    for (const name of [...FIELDS, "page"]) url.searchParams.delete(name);
    for (const [name, value] of Object.entries(fields())) {
      if (value) url.searchParams.set(name, value);
    }
    if (page > 1) url.searchParams.set("page", String(page));
    history.replaceState(history.state, "", url);
  }

  async function search(page) {
    const mine = ++generation;
    busy = true;
    error = null;
    render();
    remember(page);
    try {
      const found = await searchDecisions({ ...fields(), page, per_page: PER_PAGE });
      if (mine !== generation) return;
      answer = found;
    } catch (failure) {
      if (mine !== generation) return;
      error = failure;
      answer = null;
    }
    busy = false;
    render();
  }

  function pager() {
    const pages = Math.max(1, Math.ceil(answer.total / (answer.per_page || PER_PAGE)));
    if (pages <= 1) return null;
    return h(
      "div",
      { class: "button-row register-pager", "data-testid": "register-pager" },
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-testid": "register-prev",
        "data-i18n": "register.prev",
        disabled: busy || answer.page <= 1,
        onclick: () => search(answer.page - 1),
      }),
      tx("register.page_of", { page: answer.page, pages }, "span", {
        class: "muted",
        "data-testid": "register-page",
      }),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-testid": "register-next",
        "data-i18n": "register.next",
        disabled: busy || answer.page >= pages,
        onclick: () => search(answer.page + 1),
      }),
    );
  }

  function render() {
    el.classList.toggle("busy", busy);
    if (error) {
      results.replaceChildren(
        h(
          "p",
          {
            class: "form-error",
            role: "alert",
            "data-testid": "register-error",
            "data-code": error.code,
          },
          errorText(error),
        ),
      );
      return;
    }
    if (!answer) {
      results.replaceChildren(h("p", { class: "muted", "data-i18n": "loading" }));
      return;
    }
    results.replaceChildren(
      tx("register.total", { n: answer.total }, "p", {
        class: "register-total",
        "data-testid": "register-total",
        "data-total": answer.total,
      }),
      answer.items.length
        ? h(
            "ol",
            { class: "register-list", "data-testid": "register-list" },
            answer.items.map(resultItem),
          )
        : h("p", { class: "empty", "data-testid": "register-empty", "data-i18n": "register.none" }),
      pager(),
    );
  }

  function setCouncils(councils) {
    const chosen = inputs.council.value || wantedCouncil;
    inputs.council.replaceChildren(
      h("option", { value: "", "data-i18n": "register.any_council" }),
      ...councils.map((c) => h("option", { value: c.id }, c.name)),
    );
    inputs.council.value = chosen;
    wantedCouncil = "";
  }

  // The search in the address, or else the newest decisions.
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) inputs[name].value = params.get(name) || "";
  wantedCouncil = params.get("council") || "";
  search(Math.max(1, Number(params.get("page")) || 1));

  return { el, render, setCouncils };
}
