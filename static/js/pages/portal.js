// /: the public portal. Live and scheduled sessions (a live one with its current vote's
// progress or latest result), the register of decisions, councils and their deputies,
// the way in for council members. No sign-in.

import { getJSON } from "../api.js";
import { h, tx } from "../dom.js";
import { formatDate, onLangChange } from "../i18n.js";
import { LiveClient } from "../live.js";
import { pageShell } from "../shell.js";
import { decisionRegister } from "../ui/decision-register.js";
import { stateBadge } from "../ui/session-header.js";
import { startTimers } from "../ui/timer.js";
import { voteBrief } from "../ui/vote-brief.js";

const { main } = pageShell(null);
const data = { sessions: null, councils: null, error: null };
const deputies = new Map(); // council id → list, loaded when first shown
const expanded = new Set();
const FOLLOW_AT_MOST = 8; // live sessions followed over /ws for their votes
const followed = new Map(); // session id → {live, slot}
const register = decisionRegister(); // one for the page's life: what is typed stays

/** A live session's vote line: one socket per live session, updated in place. */
function voteSlot(sessionId) {
  if (!followed.has(sessionId)) {
    if (followed.size >= FOLLOW_AT_MOST) return null;
    const live = new LiveClient();
    const slot = h("span", { class: "vote-slot", "data-testid": `vote-slot-${sessionId}` });
    const fill = () => {
      slot.replaceChildren(voteBrief(live.state) || "");
      tickNow();
    };
    live.addEventListener("state", fill);
    followed.set(sessionId, { live, slot, fill });
    live.watch(sessionId);
  }
  return followed.get(sessionId).slot;
}

function sessionCard(s) {
  return h(
    "a",
    {
      class: ["session-card", `session-${s.state}`],
      href: `/watch/${s.id}`,
      "data-testid": `session-link-${s.id}`,
    },
    h(
      "span",
      { class: "session-card-top" },
      stateBadge(s.state),
      h("span", { class: "muted" }, formatDate(s.date)),
    ),
    h("span", { class: "session-card-title" }, s.title),
    h("span", { class: "muted" }, s.council?.name || ""),
    s.state === "open" ? voteSlot(s.id) : null,
    h(
      "span",
      { class: "session-card-foot" },
      tx("session.number", { n: s.number }),
      h("span", { class: "btn btn-primary btn-small", "data-i18n": "portal.watch" }),
    ),
  );
}

function sessionsSection() {
  if (!data.sessions) return null;
  const live = data.sessions.filter((s) => s.state === "open");
  const scheduled = data.sessions.filter((s) => s.state === "scheduled");
  const group = (key, testid, list) =>
    list.length
      ? h(
          "section",
          { class: "portal-section", "data-testid": testid },
          h("h2", { class: "section-title", "data-i18n": key }),
          h("div", { class: "session-grid" }, list.map(sessionCard)),
        )
      : null;
  if (!live.length && !scheduled.length) {
    return h("p", {
      class: "placeholder",
      "data-testid": "no-sessions",
      "data-i18n": "portal.no_sessions",
    });
  }
  return [
    group("portal.live", "live-sessions", live),
    group("portal.sessions", "scheduled-sessions", scheduled),
  ];
}

function deputyTable(list) {
  return h(
    "table",
    { class: "table", "data-testid": "deputies-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["col.seat", "col.name", "col.district", "col.faction"].map((key) =>
          h("th", { "data-i18n": key }),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      list.map((d) =>
        h(
          "tr",
          { "data-deputy": d.id },
          h("td", { class: "num" }, d.seat),
          h("td", {}, d.name),
          h("td", {}, d.district || ""),
          h("td", {}, d.faction || ""),
        ),
      ),
    ),
  );
}

async function toggleDeputies(council) {
  if (expanded.has(council.id)) expanded.delete(council.id);
  else {
    expanded.add(council.id);
    if (!deputies.has(council.id)) {
      render();
      try {
        deputies.set(council.id, await getJSON(`/api/councils/${council.id}/deputies`));
      } catch (error) {
        deputies.set(council.id, error);
      }
    }
  }
  render();
}

function councilCard(c) {
  const open = expanded.has(c.id);
  const list = deputies.get(c.id);
  let body = null;
  if (open && !list) body = h("p", { class: "muted", "data-i18n": "loading" });
  else if (open && list instanceof Error) {
    body = h("p", {
      class: "form-error",
      "data-i18n": "load_error",
      "data-i18n-args": { message: list.message },
    });
  } else if (open) body = h("div", { class: "table-wrap" }, deputyTable(list));
  return h(
    "section",
    { class: "card council-card", "data-testid": `council-${c.id}` },
    h("h3", { class: "card-title" }, c.name),
    h(
      "p",
      { class: "council-meta" },
      c.region ? h("span", {}, c.region) : null,
      tx("portal.seats", { n: c.seats }, "span", { class: "tag" }),
      tx("portal.roster", { n: c.deputies }, "span", { class: "tag" }),
    ),
    h("button", {
      class: "btn btn-ghost",
      "aria-expanded": String(open),
      "data-testid": `toggle-deputies-${c.id}`,
      "data-i18n": open ? "portal.hide_deputies" : "portal.show_deputies",
      onclick: () => toggleDeputies(c),
    }),
    body,
  );
}

function membersSection() {
  const link = (href, titleKey, hintKey, testid) =>
    h(
      "a",
      { class: "member-link", href, "data-testid": testid },
      h("span", { class: "member-link-title", "data-i18n": titleKey }),
      h("span", { class: "muted", "data-i18n": hintKey }),
    );
  return h(
    "section",
    { class: "portal-section", "data-testid": "members" },
    h("h2", { class: "section-title", "data-i18n": "portal.members" }),
    h(
      "div",
      { class: "member-links" },
      link("/deputy", "nav.deputy", "portal.deputy_hint", "link-deputy"),
      link("/chair", "nav.chair", "portal.chair_hint", "link-chair"),
      link("/clerk", "nav.clerk", "portal.clerk_hint", "link-clerk"),
      link("/operator", "nav.operator", "portal.operator_hint", "link-operator"),
    ),
  );
}

function render() {
  if (data.error) {
    main.replaceChildren(
      h("p", {
        class: "placeholder",
        "data-i18n": "load_error",
        "data-i18n-args": { message: data.error.message },
      }),
      register.el, // the register asks the server for itself
    );
    return;
  }
  main.replaceChildren(
    h(
      "div",
      { class: "portal" },
      h("p", { class: "hero", "data-i18n": "app.tagline" }),
      data.sessions ? sessionsSection() : h("p", { class: "placeholder", "data-i18n": "loading" }),
      register.el,
      data.councils
        ? h(
            "section",
            { class: "portal-section", "data-testid": "councils" },
            h("h2", { class: "section-title", "data-i18n": "portal.councils" }),
            data.councils.map(councilCard),
          )
        : null,
      membersSection(),
    ),
  );
}

// Countdowns by the server's clock, as the first followed socket learnt it.
const tickNow = startTimers({
  now: () => followed.values().next().value?.live.clock.now() ?? Date.now(),
});
onLangChange(() => {
  render();
  register.render();
  for (const { fill } of followed.values()) fill();
});
render();
Promise.all([getJSON("/api/sessions"), getJSON("/api/councils")])
  .then(([sessions, councils]) => {
    Object.assign(data, { sessions, councils });
    register.setCouncils(councils);
  })
  .catch((error) => (data.error = error))
  .finally(render);
