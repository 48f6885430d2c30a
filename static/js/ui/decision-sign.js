// The chair console's decisions of the sitting, each adopted one with "Sign": with the
// chair's key in the E-IMZO app (a detached PKCS#7 over the decision's canonical bytes,
// GET /api/decisions/{id}/canonical.json, sent to POST /api/decisions/{id}/signature)
// and, on a demo server, with the demo certificate. Refusals are said in words.

import { signInMethods } from "../auth.js";
import { canonicalBase64, getDecision, signDecision, signDecisionDemo } from "../decisions.js";
import { h } from "../dom.js";
import {
  EimzoAppMissing,
  installApiKeys,
  listKeys,
  loadKey,
  maskPinfl,
  signDetached,
} from "../eimzo.js";
import { t } from "../i18n.js";
import { decisionList } from "./decision-list.js";
import { messageArea, perform } from "./feedback.js";

export function decisionsCard({ auth, live }) {
  const message = messageArea();
  const status = h("p", { class: "muted", "data-testid": "eimzo-sign-status" });
  const keys = h("ul", { class: "eimzo-keys", "data-testid": "eimzo-sign-keys" });
  const panel = h(
    "div",
    { class: "eimzo-sign", "data-testid": "eimzo-sign", hidden: true },
    status,
    keys,
    h("button", {
      type: "button",
      class: "btn btn-ghost",
      "data-testid": "eimzo-sign-cancel",
      "data-i18n": "decision.sign_cancel",
      onclick: () => close(),
    }),
  );
  let methods = null;
  let target = null; // the decision being signed with E-IMZO
  let busy = false;

  function say(key, args = {}) {
    status.setAttribute("data-i18n", key);
    status.setAttribute("data-i18n-args", JSON.stringify(args));
    status.textContent = t(key, args);
  }

  function close() {
    target = null;
    panel.hidden = true;
    keys.replaceChildren();
  }

  async function refresh(id) {
    try {
      list.upsert(await getDecision(id));
    } catch {
      // the decision.signed event says it anyway
    }
  }

  function demoSign(d, button) {
    return perform(button, message, () => signDecisionDemo(d.id, auth.token).then(() => true)).then(
      (done) => done && refresh(d.id),
    );
  }

  function keyButton(key) {
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: ["btn", "eimzo-key", key.expired && "expired"],
          disabled: key.expired,
          "data-testid": "eimzo-sign-key",
          onclick: () => signWith(key),
        },
        h("span", { class: "eimzo-key-name" }, key.name),
        h("span", { class: "eimzo-key-pinfl" }, key.pinfl ? maskPinfl(key.pinfl) : key.tin),
      ),
    );
  }

  async function startEimzo(d) {
    target = d;
    panel.hidden = false;
    panel.dataset.decision = d.id;
    keys.replaceChildren();
    message.clear();
    say("decision.eimzo.looking", { number: d.number });
    try {
      await installApiKeys(methods?.eimzo_api_keys || []);
      const found = await listKeys();
      if (target !== d) return;
      say(found.length ? "decision.eimzo.choose" : "login.eimzo.no_keys", { number: d.number });
      keys.replaceChildren(...found.map(keyButton));
    } catch (error) {
      if (error instanceof EimzoAppMissing) say("login.eimzo.app_missing_no_oneid");
      else say("login.eimzo.app_error", { reason: error.reason || error.message });
    }
  }

  async function signWith(key) {
    const d = target;
    if (!d || busy) return;
    busy = true;
    panel.classList.add("busy");
    message.clear();
    try {
      const keyId = await loadKey(key);
      const data64 = await canonicalBase64(d.id);
      const pkcs7 = await signDetached(keyId, data64);
      const done = await perform(null, message, () =>
        signDecision(d.id, pkcs7, auth.token).then(() => true),
      );
      if (done) {
        close();
        await refresh(d.id);
      }
    } catch (error) {
      if (error instanceof EimzoAppMissing) say("login.eimzo.app_gone");
      else if (error.wrongPassword) say("login.eimzo.wrong_password");
      else if (error.reason !== undefined) {
        say("login.eimzo.app_error", { reason: error.reason || error.message });
      } else message.error(error); // the canonical bytes could not be fetched
    } finally {
      busy = false;
      panel.classList.remove("busy");
    }
  }

  function actions(d) {
    if (d.state === "signed") return [];
    return [
      methods?.eimzo
        ? h("button", {
            type: "button",
            class: "btn btn-primary",
            "data-testid": "sign-eimzo",
            "data-i18n": "decision.sign",
            onclick: () => startEimzo(d),
          })
        : null,
      methods?.demo
        ? h("button", {
            type: "button",
            class: "btn btn-ghost",
            "data-testid": "sign-demo",
            "data-i18n": "decision.sign_demo",
            onclick: (event) => demoSign(d, event.currentTarget),
          })
        : null,
    ];
  }

  const list = decisionList({ live, actions, testid: "chair-decisions" });
  signInMethods().then((offered) => {
    methods = offered;
    list.render();
  });
  live.addEventListener("state", (event) => {
    // Signed meanwhile (another tab, another device): nothing left to sign here.
    const d = event.detail.event?.decision;
    if (event.detail.kind === "decision.signed" && target?.id === d?.id) close();
  });

  const el = h(
    "section",
    { class: "card card-wide decisions-card", "data-testid": "decisions-card" },
    h("h2", { class: "card-title", "data-i18n": "decision.sitting_decisions" }),
    message.el,
    list.el,
    panel,
  );

  return { el, render: (state) => list.follow(state) };
}
