// A tiny element builder: h("button", {class: "big", onclick: go}, "Text").
// An element with data-i18n and no children gets its translated text.

import { t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "style") {
      // Through the CSSOM: the Content-Security-Policy (style-src 'self') refuses a
      // style *attribute*, but not styles set from a script.
      el.style.cssText = value;
    } else if (name === "value" || name === "checked") {
      el[name] = value;
    } else if (name === "data-i18n-args") {
      el.setAttribute(name, JSON.stringify(value));
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  if (attrs && attrs["data-i18n"] && !children.length) {
    el.textContent = t(attrs["data-i18n"], attrs["data-i18n-args"] || {});
  }
  if (attrs) {
    for (const attr of ["placeholder", "title", "aria-label"]) {
      const key = attrs[`data-i18n-${attr}`];
      if (key) el.setAttribute(attr, t(key));
    }
  }
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Text in the interface language that follows language changes: tx("portal.seats", {n: 35}). */
export function tx(key, args, tag = "span", attrs = {}) {
  return h(tag, { ...attrs, "data-i18n": key, "data-i18n-args": args });
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/**
 * Run `rebuild()`, which replaces elements under `root`, and give the focus back to the
 * new element with the same data-focus-key: typing in a box survives live updates.
 */
export function keepFocus(root, rebuild) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset?.focusKey : null;
  const range =
    key && typeof active.selectionStart === "number"
      ? [active.selectionStart, active.selectionEnd]
      : null;
  rebuild();
  if (!key || active.isConnected) return;
  const again = root.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (!again) return;
  again.focus({ preventScroll: true });
  if (range) {
    try {
      again.setSelectionRange(...range);
    } catch {
      // not a text box
    }
  }
}
