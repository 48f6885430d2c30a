// Which session a member's page works on: open or scheduled sessions of their council,
// by default the newest open one, else the newest scheduled one (else the newest).
// `?session=ID` in the address picks one explicitly and is kept up to date.

import { getJSON } from "./api.js";

/** Every session of the user's council (any council for an admin), newest first. */
export async function councilSessions(user, token) {
  const query = user.council_id ? `?council=${user.council_id}` : "";
  return getJSON(`/api/sessions${query}`, { token });
}

export async function activeSessions(user, token) {
  const sessions = await councilSessions(user, token);
  return sessions.filter((s) => s.state === "open" || s.state === "scheduled");
}

/** The list is newest first (as GET /api/sessions returns it). */
export function defaultSession(sessions) {
  const wanted = Number(new URLSearchParams(location.search).get("session"));
  return (
    sessions.find((s) => s.id === wanted) ||
    sessions.find((s) => s.state === "open") ||
    sessions.find((s) => s.state === "scheduled") ||
    sessions[0] ||
    null
  );
}

export function rememberSession(id) {
  const url = new URL(location.href);
  url.searchParams.set("session", id);
  history.replaceState(null, "", url);
}
