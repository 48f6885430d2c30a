// /clerk: the secretariat's page. Pick a sitting (any state), see its votes as they are
// counted, and download each vote's protocol (JSON as a Popolo vote event, CSV). The
// secretary and admins also get the sign-ins (end a user's sign-ins), the deputies'
// Face ID enrolment and the audit trail.

import { h } from "../dom.js";
import { councilSessions } from "../sessions.js";
import { auditTrail } from "../ui/audit-trail.js";
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

function buildClerkConsole({ auth }) {
  const header = h("div");
  const list = h("div", { class: "protocol-list", "data-testid": "clerk-votes" });
  const el = h(
    "div",
    { class: "console clerk-console", "data-testid": "clerk-console" },
    header,
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
