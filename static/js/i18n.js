// Interface languages. Every interface text goes through t(); data (names, agenda
// titles) is shown as it comes. Elements built with a data-i18n="key" attribute (and
// optional data-i18n-args='{"n":3}', data-i18n-placeholder, data-i18n-title,
// data-i18n-aria-label) are translated in place when the language changes; pages
// re-render their live parts on the "change" event.

import uzLatn from "./i18n/uz-Latn.js";
import uzCyrl from "./i18n/uz-Cyrl.js";
import ru from "./i18n/ru.js";
import en from "./i18n/en.js";
// Voting, results and the clerk's page, kept apart from the general texts.
import uzLatnVote from "./i18n/vote/uz-Latn.js";
import uzCyrlVote from "./i18n/vote/uz-Cyrl.js";
import ruVote from "./i18n/vote/ru.js";
import enVote from "./i18n/vote/en.js";
// The secretariat's sign-ins and audit trail.
import uzLatnSignIns from "./i18n/signins/uz-Latn.js";
import uzCyrlSignIns from "./i18n/signins/uz-Cyrl.js";
import ruSignIns from "./i18n/signins/ru.js";
import enSignIns from "./i18n/signins/en.js";
// Face ID: the camera challenge, the face check with a ballot, enrolment.
import uzLatnFaceId from "./i18n/faceid/uz-Latn.js";
import uzCyrlFaceId from "./i18n/faceid/uz-Cyrl.js";
import ruFaceId from "./i18n/faceid/ru.js";
import enFaceId from "./i18n/faceid/en.js";
// Decisions: the register, a decision's page and its check in the public ledger, signing.
import uzLatnDecisions from "./i18n/decisions/uz-Latn.js";
import uzCyrlDecisions from "./i18n/decisions/uz-Cyrl.js";
import ruDecisions from "./i18n/decisions/ru.js";
import enDecisions from "./i18n/decisions/en.js";
// The operator's broadcast console: on air or not, ingest keys.
import uzLatnOperator from "./i18n/operator/uz-Latn.js";
import uzCyrlOperator from "./i18n/operator/uz-Cyrl.js";
import ruOperator from "./i18n/operator/ru.js";
import enOperator from "./i18n/operator/en.js";

export const LANGUAGES = Object.freeze([
  { code: "uz-Latn", label: "Oʻzbekcha", short: "OʻZ" },
  { code: "uz-Cyrl", label: "Ўзбекча", short: "ЎЗ" },
  { code: "ru", label: "Русский", short: "РУ" },
  { code: "en", label: "English", short: "EN" },
]);
export const DEFAULT_LANGUAGE = "uz-Latn";

const DICTIONARIES = {
  "uz-Latn": {
    ...uzLatn,
    ...uzLatnVote,
    ...uzLatnSignIns,
    ...uzLatnFaceId,
    ...uzLatnDecisions,
    ...uzLatnOperator,
  },
  "uz-Cyrl": {
    ...uzCyrl,
    ...uzCyrlVote,
    ...uzCyrlSignIns,
    ...uzCyrlFaceId,
    ...uzCyrlDecisions,
    ...uzCyrlOperator,
  },
  ru: { ...ru, ...ruVote, ...ruSignIns, ...ruFaceId, ...ruDecisions, ...ruOperator },
  en: { ...en, ...enVote, ...enSignIns, ...enFaceId, ...enDecisions, ...enOperator },
};
const STORAGE_KEY = "kengash.lang";
const events = new EventTarget();

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled
  }
}

let current = DICTIONARIES[stored()] ? stored() : DEFAULT_LANGUAGE;

export function lang() {
  return current;
}

export function has(key) {
  return key in DICTIONARIES[current] || key in DICTIONARIES.en;
}

/** The text for `key` in the current language, with {name} placeholders filled. */
export function t(key, params = {}) {
  const text = DICTIONARIES[current][key] ?? DICTIONARIES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match,
  );
}

export function setLang(code) {
  if (!DICTIONARIES[code]) return;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  translate(document);
  events.dispatchEvent(new CustomEvent("change", { detail: code }));
}

export function onLangChange(listener) {
  events.addEventListener("change", listener);
}

const ATTRIBUTES = ["placeholder", "title", "aria-label"];

/** Translate every marked element under `root` in place (inputs keep their values). */
export function translate(root = document) {
  if (root === document) {
    document.documentElement.lang = current;
    const title = document.querySelector("title[data-i18n]");
    if (title) title.textContent = t(title.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const args = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : {};
    el.textContent = t(el.dataset.i18n, args);
  }
  for (const attr of ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    }
  }
}

/** A date as the current language writes it ("2026-11-05" → "5-noyabr, 2026"). */
export function formatDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  const months = t("date.months").split(",");
  if (months.length === 12 && y && m && d) {
    return t("date.format", { d, month: months[m - 1], y });
  }
  return iso;
}

translate(document);

/** A UTC time as local "2026-11-23 11:31" (the same in every language). */
export function formatTime(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const two = (n) => String(n).padStart(2, "0");
  return (
    `${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} ` +
    `${two(when.getHours())}:${two(when.getMinutes())}`
  );
}
