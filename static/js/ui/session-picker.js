// Choosing among the council's open and scheduled sessions.

import { h } from "../dom.js";
import { formatDate, t } from "../i18n.js";

function optionLabel(s) {
  return `${t("session.number", { n: s.number })} · ${formatDate(s.date)} · ${t(`state.${s.state}`)}`;
}

export function sessionPicker(sessions, selectedId, onPick) {
  const select = h(
    "select",
    {
      id: "session-select",
      class: "input",
      "data-testid": "session-select",
      onchange: (event) => onPick(Number(event.target.value)),
    },
    sessions.map((s) => h("option", { value: s.id }, optionLabel(s))),
  );
  select.value = String(selectedId);
  return h(
    "div",
    { class: "session-picker" },
    h("label", { for: "session-select", class: "field-label", "data-i18n": "session.pick" }),
    select,
  );
}
