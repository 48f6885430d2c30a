// The agenda, the current item highlighted; with `onStart`, a Start button per item.

import { h, tx } from "../dom.js";

export function agendaList(state, { onStart = null, canStart = false } = {}) {
  const agenda = state.agenda || { items: [], current: null };
  return h(
    "ol",
    { class: "agenda", "data-testid": "agenda" },
    agenda.items.map((item) => {
      const current = item.id === agenda.current;
      return h(
        "li",
        {
          class: ["agenda-item", current && "current", `item-${item.state}`],
          "data-testid": "agenda-item",
          "data-item": item.id,
          "data-state": item.state,
          "data-current": String(current),
          "aria-current": current ? "step" : null,
        },
        h("span", { class: "agenda-pos" }, item.position),
        h(
          "div",
          { class: "agenda-body" },
          h("p", { class: "agenda-title" }, item.title),
          item.rapporteur
            ? tx("watch.rapporteur", { name: item.rapporteur }, "p", { class: "agenda-rapporteur" })
            : null,
          h("span", {
            class: `item-state item-state-${item.state}`,
            "data-i18n": `item.${item.state}`,
          }),
        ),
        onStart
          ? h("button", {
              class: ["btn", current ? "btn-current" : "btn-primary", "btn-start"],
              "data-testid": `start-item-${item.id}`,
              "data-i18n": current ? "chair.current" : "chair.start",
              disabled: current || !canStart,
              onclick: (event) => onStart(item, event.currentTarget),
            })
          : null,
      );
    }),
  );
}
