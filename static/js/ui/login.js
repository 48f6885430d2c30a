// The demo sign-in form: type a login or press one of the obvious ones.

import { ApiError } from "../api.js";
import { QUICK_LOGINS, signIn } from "../auth.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

function loginError(error) {
  if (error instanceof ApiError && error.code === "unknown_login") return t("login.unknown");
  if (error instanceof ApiError && error.code === "demo_off") return t("login.demo_off");
  return t("login.failed", { message: error.message });
}

/** A sign-in card; `onSignedIn({token, user})` runs after a successful sign-in. */
export function loginForm({ onSignedIn, noticeKey = null, suggested = QUICK_LOGINS }) {
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
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "login-error" });

  async function attempt(login) {
    if (!login.trim()) return;
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

  return h(
    "section",
    { class: "card login-card", "data-testid": "login" },
    h("h1", { class: "card-title", "data-i18n": "login.title" }),
    noticeKey ? h("p", { class: "notice", "data-i18n": noticeKey }) : null,
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
    error,
  );
}
