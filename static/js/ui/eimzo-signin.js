// "Sign in with E-IMZO" on the sign-in card: the keys the E-IMZO app finds on this
// device, the server's challenge with its countdown, and the signature sent back.

import { eimzoChallenge, signInWithEimzo } from "../auth.js";
import {
  EimzoAppMissing,
  installApiKeys,
  listKeys,
  loadKey,
  maskPinfl,
  signAttached,
} from "../eimzo.js";
import { h } from "../dom.js";
import { has, t } from "../i18n.js";

/** What to say for a refusal of POST /api/auth/eimzo (or of the challenge). */
export function eimzoErrorKey(code) {
  const key = `login.eimzo.${code}`;
  return code && has(key) ? key : "login.eimzo.failed";
}

function localDay(date) {
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
}

/**
 * The E-IMZO part of the card. `onSignedIn(auth)` after a sign-in; `showError(key, args)`
 * says something in the card's shared error line (null clears it); `oneId`: whether One
 * ID is offered, for what to say where the app is not running.
 */
export function eimzoSignIn({ onSignedIn, showError, apiKeys = [], oneId = false }) {
  const status = h("p", { class: "muted", "data-testid": "eimzo-status" });
  const keys = h("ul", { class: "eimzo-keys", "data-testid": "eimzo-keys" });
  const countdown = h("p", { class: "muted eimzo-countdown", "data-testid": "eimzo-countdown" });
  const retry = h("button", {
    class: "btn",
    type: "button",
    hidden: true,
    "data-testid": "eimzo-retry",
    "data-i18n": "login.eimzo.retry",
    onclick: () => findKeys(),
  });
  const el = h(
    "div",
    { class: "eimzo-signin", "data-testid": "login-eimzo" },
    h("h2", { class: "eimzo-title", "data-i18n": "login.eimzo" }),
    status,
    keys,
    retry,
    countdown,
  );

  let challenge = null; // {value, expiresAt}
  let fetching = null;
  let busy = false;
  let timer = null;

  function say(target, key, args = {}) {
    target.setAttribute("data-i18n", key);
    target.setAttribute("data-i18n-args", JSON.stringify(args));
    target.textContent = t(key, args);
  }

  function secondsLeft() {
    return challenge ? Math.max(0, Math.ceil((challenge.expiresAt - Date.now()) / 1000)) : 0;
  }

  function renderCountdown() {
    if (challenge) say(countdown, "login.eimzo.countdown", { seconds: secondsLeft() });
    else countdown.textContent = "";
    countdown.dataset.seconds = String(secondsLeft());
  }

  /** A new challenge (the old one is spent or about to run out). */
  function newChallenge() {
    fetching ??= eimzoChallenge()
      .then(
        ({ challenge: value, ttl }) => {
          challenge = { value, expiresAt: Date.now() + ttl * 1000 };
          el.dataset.challenge = value;
        },
        (error) => {
          challenge = null;
          showError(eimzoErrorKey(error.code));
        },
      )
      .finally(() => {
        fetching = null;
        renderCountdown();
      });
    return fetching;
  }

  function tick() {
    if (!el.isConnected) {
      clearInterval(timer); // the card is gone: signed in, or another page
      return;
    }
    renderCountdown();
    if (challenge && secondsLeft() === 0 && !busy) newChallenge();
  }

  function keyItem(key) {
    const until = key.validTo ? localDay(key.validTo) : "–";
    return h(
      "li",
      {},
      h(
        "button",
        {
          class: ["btn", "eimzo-key", key.expired && "expired"],
          type: "button",
          disabled: key.expired,
          "data-testid": "eimzo-key",
          "data-pinfl-last4": key.pinfl.slice(-4),
          onclick: () => signWith(key),
        },
        h("span", { class: "eimzo-key-name" }, key.name),
        h("span", { class: "eimzo-key-pinfl" }, key.pinfl ? maskPinfl(key.pinfl) : key.tin),
        key.organisation ? h("span", { class: "eimzo-key-org" }, key.organisation) : null,
        h("span", {
          class: "eimzo-key-until",
          "data-i18n": key.expired ? "login.eimzo.expired_on" : "login.eimzo.valid_until",
          "data-i18n-args": { date: until },
        }),
      ),
    );
  }

  async function findKeys() {
    retry.hidden = true;
    keys.replaceChildren();
    say(status, "login.eimzo.looking");
    try {
      await installApiKeys(apiKeys);
      const found = await listKeys();
      if (!found.length) say(status, "login.eimzo.no_keys");
      else say(status, "login.eimzo.choose");
      keys.replaceChildren(...found.map(keyItem));
    } catch (error) {
      retry.hidden = false;
      if (error instanceof EimzoAppMissing) {
        el.dataset.app = "missing";
        say(status, oneId ? "login.eimzo.app_missing" : "login.eimzo.app_missing_no_oneid");
      } else say(status, "login.eimzo.app_error", { reason: error.reason || error.message });
    }
  }

  async function signWith(key) {
    if (busy) return;
    busy = true;
    el.classList.add("busy");
    showError(null);
    try {
      if (!challenge || secondsLeft() < 5) await newChallenge();
      if (!challenge) return; // said already
      const keyId = await loadKey(key);
      const pkcs7 = await signAttached(keyId, challenge.value);
      let auth;
      try {
        auth = await signInWithEimzo(pkcs7);
      } catch (error) {
        showError(eimzoErrorKey(error.code));
        challenge = null; // spent, or no good: the next attempt signs a new one
        newChallenge();
        return;
      }
      clearInterval(timer);
      onSignedIn(auth);
    } catch (error) {
      // The app refused: a wrong password, or the user closed its window.
      if (error instanceof EimzoAppMissing) showError("login.eimzo.app_gone");
      else if (error.wrongPassword) showError("login.eimzo.wrong_password");
      else showError("login.eimzo.app_error", { reason: error.reason || error.message });
    } finally {
      busy = false;
      el.classList.remove("busy");
    }
  }

  /** Start once the part is on the page. */
  function start() {
    timer = setInterval(tick, 1000);
    newChallenge();
    findKeys();
  }

  return { el, start };
}
