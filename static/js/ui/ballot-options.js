// What a deputy presses to vote: three big buttons (yes / no / abstain, each with a
// colour, a sign and a word), or an election's candidate list with a Cast button.

import { h, tx } from "../dom.js";
import { OPTIONS } from "./vote-text.js";

const SIGNS = { yes: "✓", no: "✕", abstain: "○" };

export function yesNoButtons({ current = null, disabled = false, onChoose }) {
  return h(
    "div",
    { class: "ballot-options", role: "group", "data-i18n-aria-label": "vote.your_choice" },
    OPTIONS.map((option) =>
      h(
        "button",
        {
          type: "button",
          class: ["btn", "btn-ballot", `btn-ballot-${option}`, current === option && "chosen"],
          "data-testid": `ballot-${option}`,
          "aria-pressed": String(current === option),
          disabled,
          onclick: () => onChoose(option),
        },
        h("span", { class: "ballot-sign", "aria-hidden": "true" }, SIGNS[option]),
        h("span", { "data-i18n": `vote.choice.${option}` }),
      ),
    ),
  );
}

/** `selected` is a Set of candidate ids; `onToggle(id, on)`; `onCast()` sends them. */
export function candidatePicker({ motion, selected, disabled = false, onToggle, onCast }) {
  const max = motion.max_choices || 1;
  const full = selected.size >= max;
  return h(
    "div",
    { class: "candidate-picker" },
    tx("vote.choose_up_to", { n: max }, "p", { class: "picker-hint" }),
    h(
      "ul",
      { class: "candidates", role: "group", "data-i18n-aria-label": "vote.your_choice" },
      motion.candidates.map((c) => {
        const on = selected.has(c.id);
        return h(
          "li",
          {},
          h(
            "label",
            { class: ["candidate", on && "chosen"], "data-candidate": c.id },
            h("input", {
              type: "checkbox",
              class: "candidate-box",
              "data-testid": `candidate-${c.id}`,
              checked: on,
              disabled: disabled || (!on && full),
              onchange: (event) => onToggle(c.id, event.target.checked),
            }),
            h("span", { class: "candidate-name" }, c.name),
          ),
        );
      }),
    ),
    tx("vote.chosen_of", { n: selected.size, max }, "p", {
      class: "picker-count",
      "data-testid": "chosen-count",
      "aria-live": "polite",
    }),
    h("button", {
      type: "button",
      class: "btn btn-ballot btn-ballot-cast",
      "data-testid": "ballot-cast",
      "data-i18n": selected.size ? "vote.cast" : "vote.cast_blank",
      disabled,
      onclick: onCast,
    }),
  );
}
