// The page header: brand, page name, links to the member pages, connection status, who
// is signed in, language.

import { h } from "../dom.js";
import { formatTime } from "../i18n.js";
import { connStatus } from "./conn-status.js";
import { langSwitcher } from "./lang-switcher.js";
import { pageNav } from "./nav.js";

export function mountHeader(pageNameKey) {
  const liveSlot = h("span", { class: "header-live" });
  const userSlot = h("span", { class: "header-user" });
  const header = h(
    "header",
    { class: "app-header", "data-testid": "app-header" },
    h(
      "a",
      { class: "brand", href: "/" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "EK"),
      h("span", { class: "brand-name", "data-i18n": "app.name" }),
    ),
    pageNameKey ? h("span", { class: "page-name", "data-i18n": pageNameKey }) : null,
    h("span", { class: "header-spacer" }),
    pageNav(),
    liveSlot,
    userSlot,
    langSwitcher(),
  );
  document.body.prepend(header);
  return {
    setLive(live) {
      liveSlot.replaceChildren(live ? connStatus(live) : "");
    },
    /**
     * Who is signed in, how and until when: `auth` is {user, method, expires_at}, and
     * `face_verified` after a Face ID check.
     */
    setUser(auth, onLogout) {
      if (!auth) {
        userSlot.replaceChildren();
        return;
      }
      const { user, method, expires_at: expiresAt } = auth;
      userSlot.replaceChildren(
        h(
          "span",
          { class: "user", "data-testid": "current-user" },
          h("span", { class: "user-name" }, user.name),
          " · ",
          h("span", { class: "user-role", "data-i18n": `role.${user.role}` }),
          method
            ? h("span", {
                class: "user-signin",
                "data-testid": "current-signin",
                "data-method": method,
                "data-i18n": `auth.signed_in.${method}`,
                "data-i18n-args": { until: formatTime(expiresAt) },
              })
            : null,
        ),
        // Beside the method, outside the name's box: a long name does not hide it.
        auth.face_verified
          ? h("span", {
              class: "user-face",
              "data-testid": "current-face",
              "data-i18n": "face.verified_mark",
            })
          : "", // not null: replaceChildren() would write "null"
        h("button", {
          class: "btn btn-ghost",
          "data-testid": "logout",
          "data-i18n": "auth.logout",
          onclick: onLogout,
        }),
      );
    },
  };
}
