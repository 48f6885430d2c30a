// The floor: who is speaking (with a running timer) and the speakers' list.

import { h, tx } from "../dom.js";
import { deputyName } from "./names.js";
import { timerElement } from "./timer.js";

export function currentSpeaker(state, { me = null, actions = null, label = false } = {}) {
  const current = state.speakers?.current;
  if (!current) {
    return h(
      "div",
      { class: "speaker speaker-none", "data-testid": "current-speaker", "data-deputy": "" },
      h("p", { class: "empty", "data-i18n": "speaker.none" }),
      actions,
    );
  }
  return h(
    "div",
    {
      class: ["speaker", current.deputy === me && "mine"],
      "data-testid": "current-speaker",
      "data-deputy": current.deputy,
    },
    label ? h("p", { class: "speaker-label", "data-i18n": "speaker.title" }) : null,
    h(
      "p",
      { class: "speaker-name", "data-testid": "speaker-name" },
      deputyName(state, current.deputy),
    ),
    current.topic
      ? tx("queue.topic", { topic: current.topic }, "p", { class: "speaker-topic" })
      : null,
    timerElement(current.started_at, current.limit_seconds),
    actions,
  );
}

export function speakersQueue(state, { me = null, onGrant = null, canGrant = false } = {}) {
  const queue = state.speakers?.queue || [];
  if (!queue.length) {
    return h("p", { class: "empty", "data-testid": "speakers-queue", "data-i18n": "queue.empty" });
  }
  return h(
    "ol",
    { class: "queue", "data-testid": "speakers-queue" },
    queue.map((entry, index) =>
      h(
        "li",
        {
          class: ["queue-entry", entry.deputy === me && "mine"],
          "data-testid": "queue-entry",
          "data-deputy": entry.deputy,
        },
        h("span", { class: "queue-pos" }, index + 1),
        h(
          "div",
          { class: "queue-body" },
          h("p", { class: "queue-name" }, deputyName(state, entry.deputy)),
          entry.topic
            ? tx("queue.topic", { topic: entry.topic }, "p", { class: "queue-topic" })
            : null,
        ),
        onGrant
          ? h("button", {
              class: "btn btn-primary btn-grant",
              "data-testid": `grant-${entry.deputy}`,
              "data-i18n": "chair.grant",
              disabled: !canGrant,
              onclick: (event) => onGrant(entry, event.currentTarget),
            })
          : null,
      ),
    ),
  );
}
