// Attendance: present of seats, what the quorum needs, whether it is met; optionally
// the list of who is present.

import { h } from "../dom.js";
import { deputyName } from "./names.js";

function figure(testid, labelKey, value) {
  return h(
    "div",
    { class: "figure" },
    h("span", { class: "figure-value", "data-testid": testid }, value ?? "–"),
    h("span", { class: "figure-label", "data-i18n": labelKey }),
  );
}

export function attendanceSummary(state) {
  const a = state.attendance || {};
  const met = Boolean(a.met);
  const share = a.seats ? Math.min(100, (100 * (a.count || 0)) / a.seats) : 0;
  const mark = a.seats ? Math.min(100, (100 * (a.needed || 0)) / a.seats) : 0;
  return h(
    "div",
    { class: "attendance", "data-testid": "attendance" },
    h(
      "div",
      { class: "figures" },
      figure("attendance-count", "attendance.present", a.count),
      figure("attendance-seats", "attendance.seats", a.seats),
      figure("attendance-needed", "attendance.needed", a.needed),
    ),
    h(
      "div",
      { class: "quorum-bar", "aria-hidden": "true" },
      h("span", { class: ["quorum-fill", met && "met"], style: `width:${share}%` }),
      h("span", { class: "quorum-mark", style: `left:${mark}%` }),
    ),
    h("p", {
      class: ["quorum", met ? "met" : "not-met"],
      "data-testid": "quorum",
      "data-met": String(met),
      "data-i18n": met ? "quorum.met" : "quorum.not_met",
    }),
  );
}

export function presentList(state) {
  const a = state.attendance || {};
  const present = a.present || [];
  const remote = new Set(a.remote || []);
  if (!present.length) {
    return h("p", {
      class: "empty",
      "data-testid": "present-list",
      "data-i18n": "attendance.nobody",
    });
  }
  return h(
    "ul",
    { class: "present-list", "data-testid": "present-list" },
    present.map((id) =>
      h(
        "li",
        { "data-deputy": id },
        h("span", {}, deputyName(state, id)),
        remote.has(id) ? h("span", { class: "tag", "data-i18n": "attendance.remote" }) : null,
      ),
    ),
  );
}
