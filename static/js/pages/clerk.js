// /clerk: the secretariat's page. Pick a sitting (any state), see its votes as they are
// counted, and download each vote's protocol (PDF, JSON as a Popolo vote event, CSV)
// and the sitting's minutes (PDF); the sitting's decisions link to their pages. The
// secretary and admins also get the sign-ins (end a user's sign-ins), the deputies'
// Face ID enrolment and the audit trail.

import { minutesPdf } from "../decisions.js";
import { h } from "../dom.js";
import { councilSessions } from "../sessions.js";
import { auditTrail } from "../ui/audit-trail.js";
import { decisionList } from "../ui/decision-list.js";
import { faceEnrolPanel } from "../ui/face-enrol.js";
import { protocolCard } from "../ui/protocol-summary.js";
import { sessionHeader } from "../ui/session-header.js";
import { signInsPanel } from "../ui/users-list.js";
import { runMemberPage } from "./member.js";

const ROLES = new Set(["secretary", "chair", "admin"]);
// Who sees the sign-ins and the audit trail (the server refuses everyone else anyway).
const SECRETARIAT = new Set(["secretary", "admin"]);

function secretariatParts(auth) {
  if (!SECRETARIAT.has(auth.user.role)) return [];
  const trail = auditTrail({ auth });
  const signIns = signInsPanel({ auth, onEnded: () => trail.reload() });
  const faceId = faceEnrolPanel({ auth, onChanged: () => trail.reload() });
  return [signIns.el, faceId.el, trail.el];
}

function minutesLink(sessionId) {
  return h(
    "p",
    { class: "button-row downloads" },
    h(
      "a",
      {
        class: "btn btn-ghost btn-download",
        href: minutesPdf(sessionId),
        download: `minutes-${sessionId}.pdf`,
        "data-testid": "minutes-pdf",
      },
      h("span", { class: "download-icon", "aria-hidden": "true" }, "⤓"),
      h("span", { "data-i18n": "clerk.minutes_pdf" }),
    ),
  );
}

function buildClerkConsole({ auth, live, sessionId }) {
  const header = h("div");
  const minutes = h("div");
  const list = h("div", { class: "protocol-list", "data-testid": "clerk-votes" });
  const decisions = decisionList({ live, testid: "clerk-decisions" });
  const el = h(
    "div",
    { class: "console clerk-console", "data-testid": "clerk-console" },
    header,
    minutes,
    h("h2", { class: "section-title", "data-i18n": "decision.sitting_decisions" }),
    h("section", { class: "card" }, decisions.el),
    h("h2", { class: "section-title", "data-i18n": "clerk.votes" }),
    list,
    ...secretariatParts(auth),
  );
  let last = null;

  function render(state) {
    last = state;
    if (!state) {
      header.replaceChildren(h("p", { class: "placeholder", "data-i18n": "watch.waiting" }));
      return;
    }
    header.replaceChildren(sessionHeader(state));
    minutes.replaceChildren(minutesLink(sessionId)); // in the interface language
    decisions.follow(state);
    const votes = [...(state.votes || [])].reverse(); // newest first
    list.replaceChildren(
      ...(votes.length
        ? votes.map((entry) => protocolCard(entry, state, () => render(last)))
        : [h("p", { class: "empty", "data-i18n": "vote.none_yet" })]),
    );
  }

  return { el, render };
}

runMemberPage({
  pageNameKey: "nav.clerk",
  allowed: (user) => ROLES.has(user.role),
  refusedKey: "auth.need_clerk",
  build: buildClerkConsole,
  sessionsOf: councilSessions,
  logins: ["secretary", "chair"],
  withoutSession: secretariatParts,
});
