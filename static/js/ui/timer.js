// Running speech timers. A renderer makes a timer element; one ticker updates every
// timer on the page from the server's clock, so re-rendering never resets a timer.

import { formatSeconds, secondsSince } from "../clock.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { tickCountdowns } from "./countdown.js";

export function timerElement(startedAt, limitSeconds) {
  return h("span", {
    class: "timer",
    "data-testid": "speaker-timer",
    "data-started": startedAt,
    "data-limit": limitSeconds,
    "data-volatile": "", // changes every second: left out when comparing renders
  });
}

function tick(clock) {
  for (const el of document.querySelectorAll(".timer[data-started]")) {
    const elapsed = secondsSince(clock, el.dataset.started);
    const limit = Number(el.dataset.limit) || 0;
    const over = limit > 0 && elapsed > limit;
    el.textContent = limit
      ? `${formatSeconds(elapsed)} / ${formatSeconds(limit)}`
      : formatSeconds(elapsed);
    el.classList.toggle("over", over);
    el.dataset.over = String(over);
    if (over) el.dataset.overLabel = t("speaker.over");
  }
}

/** Start updating timers against `clock` (a ServerClock); returns a function to render now. */
export function startTimers(clock) {
  const all = () => {
    tick(clock);
    tickCountdowns(clock); // votes' time left
  };
  setInterval(all, 250);
  return all;
}
