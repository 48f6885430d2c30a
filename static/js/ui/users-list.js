// The secretariat's sign-ins screen: the users who may sign in, how many sign-ins each
// has open now (GET /api/users), and ending all of a user's sign-ins at once
// (POST /api/users/{id}/sign-ins/end) with a reason, after a confirmation.

import { getJSON, postJSON } from "../api.js";
import { h } from "../dom.js";
import { messageArea, perform } from "./feedback.js";

// The reasons offered, as the audit trail keeps them; "other" is ended_by_staff.
export const END_REASONS = Object.freeze(["lost_tablet", "mandate_ended", "ended_by_staff"]);

function usersUrl(user) {
  return user.role === "secretary" && user.council_id
    ? `/api/users?${new URLSearchParams({ council: user.council_id })}`
    : "/api/users";
}

/** The sign-ins part: `auth` is the page's {token, user}; `onEnded()` after an ending. */
export function signInsPanel({ auth, onEnded = () => {} }) {
  const message = messageArea();
  const body = h("div", { class: "table-wrap" });
  const el = h(
    "section",
    { class: "card card-wide signins-panel", "data-testid": "signins-panel" },
    h("h2", { class: "card-title", "data-i18n": "signins.title" }),
    h("p", { class: "field-hint", "data-i18n": "signins.hint" }),
    message.el,
    body,
  );

  function countCell(user) {
    return h("td", { class: "num", "data-testid": "open-sign-ins" }, String(user.open_sign_ins));
  }

  function confirmation(user, row, cell) {
    const reason = h(
      "select",
      { class: "input", "data-testid": "end-reason", "data-i18n-aria-label": "signins.reason" },
      END_REASONS.map((code) =>
        h("option", { value: code, "data-i18n": `signins.reason.${code}` }),
      ),
    );
    const confirm = h("button", {
      class: "btn btn-danger btn-small",
      "data-testid": "end-confirm",
      "data-i18n": "signins.confirm",
      onclick: async () => {
        const answer = await perform(confirm, message, () =>
          postJSON(
            `/api/users/${user.id}/sign-ins/end`,
            { reason: reason.value },
            { token: auth.token },
          ),
        );
        if (!answer) return;
        user.open_sign_ins = 0;
        row.replaceWith(userRow(user));
        message.clear();
        message.el.classList.add("message-info");
        message.el.append(
          h("span", {
            "data-testid": "end-done",
            "data-i18n": "signins.ended",
            "data-i18n-args": { n: answer.ended, name: user.name },
          }),
        );
        onEnded(user, answer);
      },
    });
    cell.replaceChildren(
      h(
        "div",
        { class: "end-confirm", "data-testid": "end-confirmation" },
        h("span", {
          "data-i18n": "signins.confirm_question",
          "data-i18n-args": { name: user.name },
        }),
        h(
          "label",
          { class: "field" },
          h("span", { class: "field-label", "data-i18n": "signins.reason" }),
          reason,
        ),
        h(
          "div",
          { class: "button-row" },
          confirm,
          h("button", {
            class: "btn btn-ghost btn-small",
            "data-testid": "end-cancel",
            "data-i18n": "signins.cancel",
            onclick: () => row.replaceWith(userRow(user)),
          }),
        ),
      ),
    );
    reason.focus();
  }

  function userRow(user) {
    const action = h("td", { class: "signins-action" });
    const row = h(
      "tr",
      { "data-testid": "user-row", "data-login": user.login, "data-user": user.id },
      h(
        "td",
        {},
        user.name,
        user.removed ? h("span", { class: "tag", "data-i18n": "signins.removed" }) : null,
      ),
      h("td", {}, user.login),
      h("td", { "data-i18n": `role.${user.role}` }),
      countCell(user),
      action,
    );
    if (user.open_sign_ins > 0) {
      action.append(
        h("button", {
          class: "btn btn-warn btn-small",
          "data-testid": "end-sign-ins",
          "data-i18n": "signins.end_all",
          onclick: () => confirmation(user, row, action),
        }),
      );
    }
    return row;
  }

  async function reload() {
    let users;
    try {
      users = await getJSON(usersUrl(auth.user), { token: auth.token });
    } catch (error) {
      message.error(error);
      return;
    }
    body.replaceChildren(
      users.length
        ? h(
            "table",
            { class: "table signins-table", "data-testid": "users-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { "data-i18n": "col.name" }),
                h("th", { "data-i18n": "signins.login" }),
                h("th", { "data-i18n": "signins.role" }),
                h("th", { class: "num", "data-i18n": "signins.open" }),
                h("th", {}),
              ),
            ),
            h("tbody", {}, users.map(userRow)),
          )
        : h("p", { class: "empty", "data-i18n": "signins.nobody" }),
    );
  }

  reload();
  return { el, reload };
}
