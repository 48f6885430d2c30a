// /operator: the operator's broadcast console. Pick the sitting, see whether it is on
// air (state.broadcast, as the server says it, with how many are watching), and manage
// its ingest keys: make one for OBS Studio (shown once, with the WHIP URL to paste
// beside it), see when each was last used, revoke one (which ends its broadcast).

import { getJSON, postJSON, request } from "../api.js";
import { h } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { messageArea, perform } from "../ui/feedback.js";
import { sessionHeader } from "../ui/session-header.js";
import { runMemberPage } from "./member.js";

// The server lets the chair manage keys too; this console is the operator's.
const ROLES = new Set(["operator", "admin"]);

const keysUrl = (sessionId) => `/api/sessions/${sessionId}/ingest-keys`;

/** A read-only field with a copy button: the key, the URL. */
function copyField(labelKey, value, testid) {
  const input = h("input", {
    class: "input copy-value",
    readonly: true,
    value,
    spellcheck: "false",
    "data-testid": testid,
    "data-i18n-aria-label": labelKey,
  });
  const done = h("span", {
    class: "muted copy-done",
    hidden: true,
    "data-i18n": "operator.copied",
  });
  const button = h("button", {
    class: "btn btn-ghost btn-small",
    type: "button",
    "data-testid": `${testid}-copy`,
    "data-i18n": "operator.copy",
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
      } catch {
        document.execCommand("copy"); // no clipboard API here (not HTTPS): the selection
      }
      done.hidden = false;
      setTimeout(() => (done.hidden = true), 3000);
    },
  });
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label", "data-i18n": labelKey }),
    h("span", { class: "copy-row" }, input, button, done),
  );
}

function statusCard() {
  const line = h("p", { class: "status-line", "data-testid": "broadcast-status" });
  const viewers = h("p", { class: "muted", "data-testid": "broadcast-viewers", hidden: true });
  const closed = h("p", { class: "muted", hidden: true, "data-i18n": "operator.closed" });
  const el = h(
    "section",
    { class: "card", "data-testid": "broadcast-card" },
    h("h2", { class: "card-title", "data-i18n": "operator.status.title" }),
    line,
    viewers,
    closed,
  );

  function render(state) {
    const broadcast = state?.broadcast || null;
    const onAir = Boolean(broadcast?.live);
    line.dataset.live = String(onAir);
    line.className = `status-line ${onAir ? "on-air" : "off-air"}`;
    line.textContent = onAir
      ? t("operator.on_air", { time: formatTime(broadcast.since) })
      : t("operator.off_air");
    // How many watch (WHEP and HLS), as the server counts them (broadcast.audience).
    const count = state?.audience?.watching;
    viewers.hidden = !onAir || !Number.isInteger(count);
    viewers.textContent = Number.isInteger(count) ? t("operator.viewers", { n: count }) : "";
    viewers.dataset.count = Number.isInteger(count) ? String(count) : "";
    closed.hidden = state?.session?.state !== "closed";
  }

  return { el, render };
}

function keysCard({ auth, sessionId }) {
  const message = messageArea();
  const label = h("input", {
    class: "input",
    maxlength: "80",
    "data-testid": "key-label",
    "data-i18n-placeholder": "operator.label_placeholder",
  });
  const create = h("button", {
    class: "btn btn-primary",
    type: "submit",
    "data-testid": "key-create",
    "data-i18n": "operator.create",
  });
  const fresh = h("div", { "data-testid": "new-key-slot" });
  const list = h("div", { class: "table-wrap", "data-testid": "key-list" });
  let keys = [];

  const form = h(
    "form",
    {
      class: "form-grid",
      onsubmit: async (event) => {
        event.preventDefault();
        const made = await perform(create, message, () =>
          postJSON(keysUrl(sessionId), { label: label.value }, { token: auth.token }),
        );
        if (!made) return;
        label.value = "";
        showNew(made);
        await reload();
      },
    },
    h(
      "label",
      { class: "field" },
      h("span", { class: "field-label", "data-i18n": "operator.label" }),
      label,
    ),
    h("div", { class: "button-row" }, create),
  );

  const el = h(
    "section",
    { class: "card card-wide", "data-testid": "ingest-keys" },
    h("h2", { class: "card-title", "data-i18n": "operator.keys.title" }),
    h("p", { class: "field-hint", "data-i18n": "operator.keys.hint" }),
    form,
    message.el,
    fresh,
    list,
  );

  // The plain key exists only in this box: hiding it (or leaving the page) loses it.
  function showNew(made) {
    fresh.replaceChildren(
      h(
        "div",
        { class: "notice new-key", "data-testid": "new-key", "data-key-id": made.id },
        h("h3", { class: "sub-title", "data-i18n": "operator.new.title" }),
        h("p", { "data-i18n": "operator.new.once" }),
        copyField("operator.new.url", made.whip_url, "new-key-url"),
        copyField("operator.new.key", made.key, "new-key-value"),
        h("p", {
          class: "field-hint",
          "data-testid": "obs-hint",
          "data-i18n": "operator.obs_hint",
        }),
        h("button", {
          class: "btn btn-ghost",
          type: "button",
          "data-testid": "new-key-done",
          "data-i18n": "operator.new.done",
          onclick: () => fresh.replaceChildren(),
        }),
      ),
    );
  }

  function keyRow(key) {
    const revoke = h("button", {
      class: "btn btn-danger btn-small",
      type: "button",
      "data-testid": "key-revoke",
      "data-i18n": "operator.revoke",
      onclick: async () => {
        if (!window.confirm(t("operator.revoke_confirm"))) return;
        const done = await perform(revoke, message, () =>
          request("DELETE", `${keysUrl(sessionId)}/${key.id}`, { token: auth.token }),
        );
        if (!done) return;
        if (fresh.firstChild?.dataset.keyId === key.id) fresh.replaceChildren();
        await reload();
      },
    });
    return h(
      "tr",
      {
        "data-testid": "key-row",
        "data-key-id": key.id,
        "data-revoked": String(key.revoked),
      },
      h(
        "td",
        {},
        key.label || t("operator.unlabelled"),
        h("span", { class: "muted small" }, ` ${key.id}`),
      ),
      h("td", {}, key.created_by?.name || "–"),
      h("td", {}, formatTime(key.created_at)),
      h(
        "td",
        { "data-testid": "key-last-used", "data-used": String(Boolean(key.last_used_at)) },
        key.last_used_at ? formatTime(key.last_used_at) : t("operator.never"),
      ),
      h(
        "td",
        {},
        key.revoked
          ? h(
              "span",
              { class: "tag tag-refused" },
              `${t("operator.revoked")} ${formatTime(key.revoked_at)}`,
            )
          : h("span", { class: "tag" }, t("operator.active")),
      ),
      h("td", {}, key.revoked ? "" : revoke),
    );
  }

  function renderList() {
    if (!keys.length) {
      list.replaceChildren(
        h("p", { class: "empty", "data-testid": "no-keys", "data-i18n": "operator.no_keys" }),
      );
      return;
    }
    const head = [
      "operator.col.label",
      "operator.col.by",
      "operator.col.created",
      "operator.col.last_used",
      "operator.col.state",
    ];
    list.replaceChildren(
      h(
        "table",
        { class: "table" },
        h("thead", {}, h("tr", {}, head.map((key) => h("th", { "data-i18n": key })), h("th", {}))),
        h("tbody", {}, keys.map(keyRow)),
      ),
    );
  }

  async function reload() {
    try {
      keys = await getJSON(keysUrl(sessionId), { token: auth.token });
    } catch (error) {
      message.error(error);
      return;
    }
    renderList();
  }

  reload();
  function render(state) {
    create.disabled = state?.session?.state === "closed";
    renderList(); // in the language chosen since
  }

  return { el, render };
}

function buildOperatorConsole({ auth, sessionId }) {
  const header = h("div");
  const status = statusCard();
  const keys = keysCard({ auth, sessionId });
  const el = h(
    "div",
    { class: "console operator-console", "data-testid": "operator-console" },
    header,
    status.el,
    keys.el,
  );

  function render(state) {
    header.replaceChildren(
      state ? sessionHeader(state) : h("p", { class: "placeholder", "data-i18n": "watch.waiting" }),
    );
    status.render(state);
    keys.render(state);
  }

  return { el, render };
}

runMemberPage({
  pageNameKey: "nav.operator",
  allowed: (user) => ROLES.has(user.role),
  refusedKey: "auth.need_operator",
  build: buildOperatorConsole,
  logins: ["operator"],
});
