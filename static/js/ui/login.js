// The sign-in card: "Sign in with E-IMZO" where the server checks E-IMZO signatures
// (ui/eimzo-signin.js), "Sign in with One ID" where the server has One ID, and the demo
// form (type a login or press one of the obvious ones) where demo sign-in is on.

import { ApiError } from "../api.js";
import { QUICK_LOGINS, oneIdStartUrl, signIn, signInMethods } from "../auth.js";
import { h } from "../dom.js";
import { has, t } from "../i18n.js";
import { eimzoSignIn } from "./eimzo-signin.js";

function loginError(error) {
  if (error instanceof ApiError && error.code === "unknown_login") return t("login.unknown");
  if (error instanceof ApiError && error.code === "demo_off") return t("login.demo_off");
  return t("login.failed", { message: error.message });
}

/** What to say for a One ID refusal (`#oneid_error=` or the hand-over's error code). */
export function oneIdErrorKey(code) {
  const key = `login.oneid.${code}`;
  return has(key) ? key : "login.oneid.failed";
}

/**
 * A sign-in card; `onSignedIn({token, user, method, expires_at})` runs after a demo
 * sign-in (One ID's comes back through the page's address). `errorKey`: a message to
 * show from the start, such as why One ID's sign-in was refused.
 */
export function loginForm({
  onSignedIn,
  noticeKey = null,
  suggested = QUICK_LOGINS,
  errorKey = null,
}) {
  const input = h("input", {
    id: "login",
    name: "login",
    class: "input",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    "data-testid": "login-input",
    "data-i18n-placeholder": "login.placeholder",
  });
  // With data-i18n the message follows the language switcher.
  const error = h("p", {
    class: "form-error",
    role: "alert",
    "data-testid": "login-error",
    "data-i18n": errorKey,
  });

  async function attempt(login) {
    if (!login.trim()) return;
    error.removeAttribute("data-i18n");
    error.textContent = "";
    form.classList.add("busy");
    try {
      onSignedIn(await signIn(login));
    } catch (failure) {
      error.textContent = loginError(failure);
    } finally {
      form.classList.remove("busy");
    }
  }

  const form = h(
    "form",
    {
      class: "login-form",
      onsubmit: (event) => {
        event.preventDefault();
        attempt(input.value);
      },
    },
    h("label", { for: "login", class: "field-label", "data-i18n": "login.label" }),
    h(
      "div",
      { class: "login-row" },
      input,
      h("button", {
        class: "btn btn-primary",
        type: "submit",
        "data-testid": "login-submit",
        "data-i18n": "login.submit",
      }),
    ),
  );

  const demo = h(
    "div",
    // display: contents: the card lays its parts out as before (its gap), as if the
    // wrapper were not there.
    { style: "display: contents", "data-testid": "login-demo" },
    h("p", { class: "muted", "data-i18n": "login.demo" }),
    form,
    h(
      "div",
      { class: "quick-logins" },
      suggested.map((login) =>
        h(
          "button",
          {
            class: "btn btn-chip",
            type: "button",
            "data-testid": `login-quick-${login}`,
            onclick: () => attempt(login),
          },
          login,
        ),
      ),
    ),
  );
  const oneIdSlot = h("div", { style: "display: contents" });
  const eimzoSlot = h("div", { style: "display: contents" });
  const card = h(
    "section",
    { class: "card login-card", "data-testid": "login" },
    h("h1", { class: "card-title", "data-i18n": "login.title" }),
    noticeKey ? h("p", { class: "notice", "data-i18n": noticeKey }) : null,
    eimzoSlot,
    oneIdSlot,
    demo,
    error,
  );
  // The demo form shows at once (the tests and the demo need no round trip); what the
  // server offers then adds One ID, or takes the demo form away where demo is off.
  signInMethods().then((offered) => {
    if (offered.oneid) {
      oneIdSlot.replaceChildren(
        h("a", {
          class: "btn btn-primary btn-big",
          href: oneIdStartUrl(),
          "data-testid": "login-oneid",
          "data-i18n": "login.oneid",
        }),
      );
    }
    if (offered.eimzo) {
      const eimzo = eimzoSignIn({
        onSignedIn,
        oneId: Boolean(offered.oneid),
        apiKeys: offered.eimzo_api_keys || [],
        showError: (key, args = {}) => {
          error.textContent = "";
          error.removeAttribute("data-i18n");
          error.removeAttribute("data-i18n-args");
          if (!key) return;
          error.setAttribute("data-i18n", key);
          error.setAttribute("data-i18n-args", JSON.stringify(args));
          error.textContent = t(key, args);
        },
      });
      eimzoSlot.replaceChildren(eimzo.el);
      eimzo.start();
    }
    if (!offered.demo) demo.remove();
  });
  return card;
}
