// Demo sign-in (POST /api/auth/demo). The token lives in sessionStorage: one sign-in
// per browser tab, gone when the tab closes.

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

/** Sign in by login name; resolves {token, user}, rejects with an ApiError. */
export async function signIn(login) {
  const auth = await postJSON("/api/auth/demo", { login: login.trim() });
  sessionStorage.setItem(KEY, JSON.stringify({ token: auth.token, user: auth.user }));
  return auth;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
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
      signOut();
      return null;
    }
    return auth; // the server is unreachable; the socket will tell
  }
}
