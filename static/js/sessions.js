// Which session a member's page works on: open or scheduled sessions of their council,
// by default the newest open one, else the newest scheduled one. `?session=ID` in the
// address picks one explicitly and is kept up to date.

import { getJSON } from "./api.js";

export async function activeSessions(user, token) {
  const query = user.council_id ? `?council=${user.council_id}` : "";
  const sessions = await getJSON(`/api/sessions${query}`, { token });
  return sessions.filter((s) => s.state === "open" || s.state === "scheduled");
}

/** The list is newest first (as GET /api/sessions returns it). */
export function defaultSession(sessions) {
  const wanted = Number(new URLSearchParams(location.search).get("session"));
  return (
    sessions.find((s) => s.id === wanted) ||
    sessions.find((s) => s.state === "open") ||
    sessions.find((s) => s.state === "scheduled") ||
    null
  );
}

export function rememberSession(id) {
  const url = new URL(location.href);
  url.searchParams.set("session", id);
  history.replaceState(null, "", url);
}
