// Telling the user how a command went: a message area and a helper that runs a
// command from a button, showing "Sending…" and a readable error on a nack.

import { h } from "../dom.js";
import { has, t } from "../i18n.js";

export function errorText(error) {
  const code = error?.code || "unknown";
  return has(`err.${code}`) ? t(`err.${code}`) : t("err.unknown", { code });
}

export function messageArea() {
  const el = h("div", {
    class: "message",
    role: "alert",
    "aria-live": "polite",
    "data-testid": "message",
  });
  let timer = null;
  return {
    el,
    clear() {
      clearTimeout(timer);
      el.replaceChildren();
      el.className = "message";
      delete el.dataset.code;
    },
    info(key) {
      this.clear();
      el.classList.add("message-info");
      el.append(h("span", { "data-i18n": key }));
    },
    error(error) {
      this.clear();
      el.classList.add("message-error");
      el.dataset.code = error?.code || "unknown";
      el.append(h("strong", {}, errorText(error)));
      // The server's own words, for the secretariat or support; English.
      if (error?.message && error.message !== error.code) {
        el.append(h("span", { class: "message-detail" }, error.message));
      }
      timer = setTimeout(() => this.clear(), 15000);
    },
  };
}

/**
 * Run `action()` (a command promise) from `button`; report a failure in `message`.
 * `online()` tells whether the socket is up: a command sent while it is down waits
 * for the reconnect, and the message says so.
 */
export async function perform(button, message, action, online = () => true) {
  message.clear();
  if (button) {
    button.disabled = true;
    button.classList.add("busy");
  }
  const slow = setTimeout(
    () => message.info(online() ? "msg.sending" : "msg.waiting_network"),
    400,
  );
  try {
    const result = await action();
    message.clear();
    return result;
  } catch (error) {
    message.error(error);
    return null;
  } finally {
    clearTimeout(slow);
    if (button) {
      button.disabled = false;
      button.classList.remove("busy");
    }
  }
}
