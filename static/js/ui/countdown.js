// Time left until a vote's `closes_at`, by the server's clock (a tablet whose own clock
// is wrong still shows the right time). One ticker updates every countdown on the page.

import { formatSeconds } from "../clock.js";
import { h } from "../dom.js";

export function countdownElement(closesAt, attrs = {}) {
  if (!closesAt) return null;
  return h("span", {
    class: "countdown",
    "data-testid": "vote-countdown",
    "data-ends": closesAt,
    "data-volatile": "", // changes every second: left out when comparing renders
    role: "timer",
    ...attrs,
  });
}

export function tickCountdowns(clock) {
  for (const el of document.querySelectorAll(".countdown[data-ends]")) {
    const left = Math.max(0, (Date.parse(el.dataset.ends) - clock.now()) / 1000);
    el.textContent = formatSeconds(Math.ceil(left));
    el.classList.toggle("soon", left <= 10);
  }
}
