// Council decisions over HTTP: the register (GET /api/decisions), one decision, its
// documents, and the chair's signature; and the decisions the live events carry
// (decision.adopted, decision.signed). No rendering here.

import { ApiError, getJSON, request } from "./api.js";
import { lang } from "./i18n.js";

export const DECISION_EVENTS = Object.freeze(["decision.adopted", "decision.signed"]);

export const decisionPage = (id) => `/decisions/${id}`;
export const decisionPdf = (id, language = lang()) =>
  `/api/decisions/${id}/decision.pdf?lang=${encodeURIComponent(language)}`;
export const decisionSignature = (id) => `/api/decisions/${id}/signature.p7s`;
export const decisionCanonical = (id) => `/api/decisions/${id}/canonical.json`;
export const protocolPdf = (voteId, language = lang()) =>
  `/api/votes/${voteId}/protocol.pdf?lang=${encodeURIComponent(language)}`;
export const minutesPdf = (sessionId, language = lang()) =>
  `/api/sessions/${sessionId}/minutes.pdf?lang=${encodeURIComponent(language)}`;

/** The register's fields, as the API names them. */
export const SEARCH_FIELDS = Object.freeze([
  "q",
  "council",
  "session",
  "from",
  "to",
  "number",
  "page",
]);
export const PER_PAGE = 20;

/** One page of the register: {items, total, page, per_page}. Empty fields are left out. */
export function searchDecisions(fields = {}) {
  const params = new URLSearchParams();
  for (const name of SEARCH_FIELDS) {
    const value = fields[name];
    if (value !== undefined && value !== null && String(value).trim() !== "") {
      params.set(name, String(value).trim());
    }
  }
  if (!params.has("per_page")) params.set("per_page", String(fields.per_page || PER_PAGE));
  return getJSON(`/api/decisions?${params}`);
}

export function getDecision(id) {
  return getJSON(`/api/decisions/${id}`);
}

/**
 * A decision in short, whichever way it came: from the register, from GET
 * /api/decisions/{id}, or from a decision.* event: {id, number, title, state, signed_by,
 * signed_at}.
 */
export function briefDecision(d) {
  return {
    id: d.id,
    number: d.number,
    title: d.title,
    state: d.state,
    signed_by: d.signed_by ?? d.signature?.signer ?? null,
    signed_at: d.signed_at ?? d.signature?.signed_at ?? null,
  };
}

/** The decision a state change carries (decision.adopted / decision.signed), or null. */
export function decisionOfEvent(detail) {
  if (!DECISION_EVENTS.includes(detail?.kind)) return null;
  return detail.event?.decision || null;
}

const MAX_PAGES = 10;

/**
 * The decisions of one sitting, oldest first. `session` is the state's session section.
 */
export async function sessionDecisions(session) {
  const found = [];
  for (let page = 1; page <= MAX_PAGES; page += 1) {
    const answer = await searchDecisions({ session: session.id, page, per_page: 100 });
    found.push(...answer.items);
    if (page * answer.per_page >= answer.total || !answer.items.length) break;
  }
  return found.map(briefDecision).sort((a, b) => a.id - b.id);
}

/** The exact bytes the chair signs, as standard base64 (what E-IMZO's create_pkcs7 takes). */
export async function canonicalBase64(id) {
  let response;
  try {
    response = await fetch(decisionCanonical(id), { cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "network", error.message);
  }
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, data?.error?.code || "http_error", data?.error?.message);
  }
  let binary = "";
  for (const byte of new Uint8Array(await response.arrayBuffer())) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

/** The chair's detached PKCS#7 (base64) over the decision's canonical bytes. */
export function signDecision(id, pkcs7, token) {
  return request("POST", `/api/decisions/${id}/signature`, { token, body: { pkcs7 } });
}

/** Demo mode only: the server signs with its demo certificate for the chair. */
export function signDecisionDemo(id, token) {
  return request("POST", `/api/decisions/${id}/signature/demo`, { token });
}
