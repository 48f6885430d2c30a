// Signing in and out. The token lives in sessionStorage: one sign-in per browser tab,
// gone when the tab closes. Signing out ends the sign-in on the server too.

import { ApiError, getJSON, postJSON } from "./api.js";

const KEY = "kengash.auth";

// There is no endpoint listing demo users; these are the obvious ones to offer.
export const QUICK_LOGINS = Object.freeze(["chair", "deputy02", "secretary"]);

export function currentAuth() {
  try {
    const auth = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return auth && auth.token && auth.user ? auth : null;
  } catch {
    return null;
  }
}

function remember(answer) {
  const auth = {
    token: answer.token,
    user: answer.user,
    method: answer.method,
    expires_at: answer.expires_at,
  };
  if (answer.face_verified) auth.face_verified = true; // signed in with Face ID
  sessionStorage.setItem(KEY, JSON.stringify(auth));
  return auth;
}

/** Demo sign-in by login name; resolves {token, user, method, expires_at}. */
export async function signIn(login) {
  return remember(await postJSON("/api/auth/demo", { login: login.trim() }));
}

let methods = null;

/**
 * The ways this server offers to sign in, {demo, eimzo, oneid}, asked once per page. If
 * the server cannot say, the demo form stays (it says for itself when demo is off).
 */
export function signInMethods() {
  methods ??= getJSON("/api/auth/methods").catch(() => ({
    demo: true,
    eimzo: false,
    oneid: false,
  }));
  return methods;
}

/** Where the browser goes to sign in with One ID and come back to `page`. */
export function oneIdStartUrl(page = location.pathname) {
  return `/api/auth/oneid/start?${new URLSearchParams({ page })}`;
}

/**
 * What One ID's return left in the address, then removed from it (the hand-over code
 * is single use, and must not stay in the history): {code} after a sign-in, {error}
 * after a refusal, or null.
 */
export function takeOneIdReturn() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get("oneid");
  const error = fragment.get("oneid_error");
  if (code === null && error === null) return null;
  history.replaceState(history.state, "", location.pathname + location.search);
  return code !== null ? { code } : { error };
}

/** Redeem One ID's hand-over code; resolves {token, user, method, expires_at}. */
export async function signInWithOneId(code) {
  return remember(await postJSON("/api/auth/oneid/handover", { code }));
}

/** A challenge for the E-IMZO key to sign: {challenge, ttl} (seconds). */
export function eimzoChallenge() {
  return postJSON("/api/auth/eimzo/challenge", {});
}

/** Send the E-IMZO app's attached PKCS#7 (base64); resolves {token, user, method, expires_at}. */
export async function signInWithEimzo(pkcs7) {
  return remember(await postJSON("/api/auth/eimzo", { pkcs7 }));
}

/**
 * A Face ID liveness challenge for the signed-in deputy: `{}` to sign in, `{vote}` for
 * a ballot; resolves {challenge, actions, ttl, frames_per_action, interval_ms}.
 */
export function faceChallenge(token, body = {}) {
  return postJSON("/api/auth/face/challenge", body, { token });
}

/**
 * Send the challenge's frames (base64 JPEG); resolves {token, user, method, expires_at,
 * face_verified}, stored like any sign-in.
 */
export async function signInWithFace(challenge, frames, token = currentAuth()?.token) {
  return remember(await postJSON("/api/auth/face", { challenge, frames }, { token }));
}

/**
 * Forget the sign-in here and, unless the server has ended it already (`ended`), end it
 * there too: the token stops working everywhere, not only in this tab.
 */
export function signOut({ ended = false } = {}) {
  const auth = currentAuth();
  sessionStorage.removeItem(KEY);
  if (auth && !ended) {
    postJSON("/api/auth/sign-out", {}, { token: auth.token }).catch(() => {
      // already ended, or the server is away: the token is forgotten here either way
    });
  }
}

/** The stored sign-in if the server still accepts its token, else null (and forgotten). */
export async function restoreAuth() {
  const auth = currentAuth();
  if (!auth) return null;
  try {
    await getJSON("/api/me", { token: auth.token });
    return auth;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut({ ended: true });
      return null;
    }
    return auth; // the server is unreachable; the socket will tell
  }
}
