// /chair: the chair's console. Open and close the sitting, take up agenda items,
// follow attendance and the quorum, give and end the floor, put questions (and draft
// decisions) to the vote, sign the decisions adopted.

import { h } from "../dom.js";
import { STATUS } from "../live.js";
import { t } from "../i18n.js";
import { agendaList } from "../ui/agenda.js";
import { attendanceSummary, presentList } from "../ui/attendance.js";
import { decisionsCard } from "../ui/decision-sign.js";
import { goLiveCard } from "../ui/go-live.js";
import { messageArea, perform } from "../ui/feedback.js";
import { sessionHeader } from "../ui/session-header.js";
import { currentSpeaker, speakersQueue } from "../ui/speakers.js";
import { votingCard } from "./chair-voting.js";
import { runMemberPage } from "./member.js";

const SPEECH_MINUTES = [1, 2, 3, 5, 10];
const DEFAULT_SECONDS = 180;

function secondsSelect() {
  const select = h(
    "select",
    { id: "seconds-select", class: "input", "data-testid": "seconds-select" },
    SPEECH_MINUTES.map((n) =>
      h("option", { value: n * 60, "data-i18n": "chair.minutes", "data-i18n-args": { n } }),
    ),
  );
  select.value = String(DEFAULT_SECONDS);
  return select;
}

function buildChairConsole({ auth, live, sessionId }) {
  const me = auth.user.deputy_id;
  const message = messageArea();
  const seconds = secondsSelect();
  const slots = {
    header: h("div"),
    agenda: h("div"),
    speaker: h("div"),
    queue: h("div"),
    attendance: h("div", { class: "stack" }),
  };

  const send = (button, cmd, args = {}) =>
    perform(
      button,
      message,
      () => live.command(cmd, { session: sessionId, ...args }),
      () => live.status === STATUS.ONLINE,
    );

  const card = (testid, titleKey, ...content) =>
    h(
      "section",
      { class: "card", "data-testid": testid },
      h("h2", { class: "card-title", "data-i18n": titleKey }),
      ...content,
    );

  const voting = votingCard({ auth, live, sessionId, send });
  const decisions = decisionsCard({ auth, live });
  const goLive = goLiveCard({ auth, sessionId });

  const el = h(
    "div",
    { class: "console chair-console", "data-testid": "chair-console" },
    slots.header,
    message.el,
    voting.el,
    decisions.el,
    goLive.el,
    h(
      "div",
      { class: "console-grid chair-grid" },
      card("agenda-card", "watch.agenda", slots.agenda),
      card("speaker-card", "speaker.title", slots.speaker),
      card(
        "queue-card",
        "queue.title",
        h(
          "div",
          { class: "field-inline" },
          h("label", { for: "seconds-select", class: "field-label", "data-i18n": "chair.seconds" }),
          seconds,
        ),
        slots.queue,
      ),
      card("attendance-card", "attendance.title", slots.attendance),
    ),
  );

  function sessionControls(state) {
    const phase = state.session?.state;
    return h(
      "div",
      { class: "button-row session-controls" },
      h("button", {
        class: "btn btn-big btn-primary",
        "data-testid": "btn-open",
        "data-i18n": "chair.open",
        disabled: phase !== "scheduled",
        onclick: (event) => send(event.currentTarget, "session.open"),
      }),
      h("button", {
        class: "btn btn-big btn-danger",
        "data-testid": "btn-close",
        "data-i18n": "chair.close",
        disabled: phase !== "open",
        onclick: (event) => {
          if (window.confirm(t("chair.confirm_close"))) send(event.currentTarget, "session.close");
        },
      }),
    );
  }

  function render(state) {
    if (!state) {
      slots.header.replaceChildren(h("p", { class: "placeholder", "data-i18n": "watch.waiting" }));
      return;
    }
    const open = state.session?.state === "open";
    const speaking = Boolean(state.speakers?.current);
    slots.header.replaceChildren(sessionHeader(state, sessionControls(state)));
    voting.render(state);
    decisions.render(state);
    goLive.render(state);
    slots.agenda.replaceChildren(
      agendaList(state, {
        canStart: open,
        onStart: (item, button) => send(button, "agenda.start_item", { item: item.id }),
      }),
    );
    slots.speaker.replaceChildren(
      currentSpeaker(state, {
        actions: h("button", {
          class: "btn btn-big btn-warn",
          "data-testid": "btn-end",
          "data-i18n": "chair.end",
          disabled: !open || !speaking,
          onclick: (event) => send(event.currentTarget, "speaker.end"),
        }),
      }),
    );
    slots.queue.replaceChildren(
      speakersQueue(state, {
        canGrant: open,
        onGrant: (entry, button) =>
          send(button, "speaker.grant", { deputy: entry.deputy, seconds: Number(seconds.value) }),
      }),
    );
    const chairPresent = (state.attendance?.present || []).includes(me);
    slots.attendance.replaceChildren(
      attendanceSummary(state),
      me && !chairPresent && state.session?.state !== "closed"
        ? h("button", {
            class: "btn btn-primary",
            "data-testid": "btn-register",
            "data-i18n": "deputy.register_chamber",
            onclick: (event) =>
              send(event.currentTarget, "attendance.register", { present: true, mode: "chamber" }),
          })
        : "",
      h("h3", { class: "sub-title", "data-i18n": "attendance.who" }),
      presentList(state),
    );
  }

  return { el, render, stop: () => goLive.end() };
}

runMemberPage({
  pageNameKey: "nav.chair",
  allowed: (user) => user.role === "chair",
  refusedKey: "auth.need_chair",
  build: buildChairConsole,
});
