// The language switcher: a select listing each language in its own name.

import { h } from "../dom.js";
import { LANGUAGES, lang, setLang } from "../i18n.js";

export function langSwitcher() {
  const select = h(
    "select",
    {
      class: "lang-select",
      "data-testid": "lang-select",
      "data-i18n-aria-label": "lang.label",
      "data-i18n-title": "lang.label",
      onchange: (event) => setLang(event.target.value),
    },
    LANGUAGES.map(({ code, label }) => h("option", { value: code, lang: code }, label)),
  );
  select.value = lang();
  return h(
    "label",
    { class: "lang" },
    h("span", { class: "lang-icon", "aria-hidden": "true" }),
    select,
  );
}
