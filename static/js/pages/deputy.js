// /deputy: the deputy's tablet. Register present, ask for the floor, follow the floor,
// vote (the ballot covers the screen as soon as a vote opens).

import { h } from "../dom.js";
import { STATUS } from "../live.js";
import { agendaList } from "../ui/agenda.js";
import { attendanceSummary } from "../ui/attendance.js";
import { myBallot } from "../my-ballot.js";
import { ballotPanel } from "../ui/ballot-panel.js";
import { faceSignIn } from "../ui/face-signin.js";
import { messageArea, perform } from "../ui/feedback.js";
import { sessionHeader } from "../ui/session-header.js";
import { currentSpeaker, speakersQueue } from "../ui/speakers.js";
import { voteStatus } from "../ui/vote-status.js";
import { runMemberPage } from "./member.js";

function registration(state, me) {
  const a = state.attendance || {};
  if (!(a.present || []).includes(me)) return "no";
  return (a.remote || []).includes(me) ? "remote" : "chamber";
}

function floorStatus(state, me) {
  const speakers = state.speakers || {};
  if (speakers.current?.deputy === me) return { kind: "speaking" };
  const index = (speakers.queue || []).findIndex((entry) => entry.deputy === me);
  return index >= 0 ? { kind: "waiting", position: index + 1 } : { kind: "none" };
}

function buildDeputyConsole({ auth, live, sessionId }) {
  const me = auth.user.deputy_id;
  const message = messageArea();
  const slots = {
    header: h("div"),
    attendance: h("div", { class: "stack" }),
    floor: h("div", { class: "stack" }),
    floorButtons: h("div", { class: "button-row" }),
    queue: h("div"),
    agenda: h("div"),
    vote: h("div"),
  };
  const ballot = ballotPanel({ live, sessionId, me, token: auth.token });
  const topic = h("input", {
    class: "input input-large",
    maxlength: 300,
    "data-testid": "topic-input",
    "data-i18n-placeholder": "deputy.topic",
    "data-i18n-aria-label": "deputy.topic",
  });
  const topicRow = h("div", { class: "topic-row" }, topic);
  // Face ID after sign-in: the tablet waits for it where the council requires it. A
  // pass is a new sign-in: the page starts again with it (a new socket, the header).
  let locked = false;
  let last = null;
  const face = faceSignIn({
    auth,
    onMode: (mode) => {
      locked = mode === "required";
      grid.hidden = locked;
      if (locked) {
        ballot.el.hidden = true;
        document.body.classList.remove("voting");
      } else if (last) render(last);
    },
    onVerified: () => location.reload(),
  });

  const send = (button, cmd, args) =>
    perform(
      button,
      message,
      () => live.command(cmd, { session: sessionId, ...args }),
      () => live.status === STATUS.ONLINE,
    );

  const grid = h(
    "div",
    { class: "console-grid" },
    h(
      "section",
      { class: "card", "data-testid": "attendance-card" },
      h("h2", { class: "card-title", "data-i18n": "deputy.attendance" }),
      slots.attendance,
    ),
    h(
      "section",
      { class: "card", "data-testid": "floor-card" },
      h("h2", { class: "card-title", "data-i18n": "deputy.floor" }),
      slots.floor,
      topicRow,
      slots.floorButtons,
    ),
    h(
      "section",
      { class: "card card-wide", "data-testid": "vote-card" },
      h("h2", { class: "card-title", "data-i18n": "vote.title" }),
      slots.vote,
    ),
    h(
      "section",
      { class: "card", "data-testid": "queue-card" },
      h("h2", { class: "card-title", "data-i18n": "queue.title" }),
      slots.queue,
    ),
    h(
      "section",
      { class: "card", "data-testid": "agenda-card" },
      h("h2", { class: "card-title", "data-i18n": "watch.agenda" }),
      slots.agenda,
    ),
  );
  const el = h(
    "div",
    { class: "console deputy-console", "data-testid": "deputy-console" },
    slots.header,
    face.el,
    message.el,
    grid,
    ballot.el,
  );

  function renderAttendance(state) {
    const mode = registration(state, me);
    const closed = state.session?.state === "closed";
    const register = (chosen) => (event) =>
      send(event.currentTarget, "attendance.register", { present: true, mode: chosen });
    const modeButton = (chosen, testid, key) =>
      h("button", {
        class: ["btn", "btn-big", mode === chosen ? "btn-active" : "btn-primary"],
        "data-testid": testid,
        "data-i18n": key,
        "aria-pressed": String(mode === chosen),
        disabled: closed || mode === chosen,
        onclick: register(chosen),
      });
    slots.attendance.replaceChildren(
      h(
        "p",
        {
          class: ["status-line", mode !== "no" && "ok"],
          "data-testid": "registration-status",
          "data-registered": mode,
        },
        h("span", { class: "status-icon", "aria-hidden": "true" }, mode === "no" ? "○" : "✓"),
        h("span", {
          "data-i18n": mode === "no" ? "deputy.not_registered" : `deputy.registered_${mode}`,
        }),
      ),
      h(
        "div",
        { class: "button-row" },
        modeButton("chamber", "btn-register", "deputy.register_chamber"),
        modeButton("remote", "btn-register-remote", "deputy.register_remote"),
      ),
      mode === "no"
        ? ""
        : h("button", {
            class: "btn btn-big btn-ghost",
            "data-testid": "btn-unregister",
            "data-i18n": "deputy.unregister",
            disabled: closed,
            onclick: (event) =>
              send(event.currentTarget, "attendance.register", { present: false, mode }),
          }),
      attendanceSummary(state),
    );
  }

  function renderFloor(state) {
    const status = floorStatus(state, me);
    const open = state.session?.state === "open";
    const statusKey = {
      speaking: "deputy.speaking",
      waiting: "deputy.position",
      none: "deputy.not_in_queue",
    }[status.kind];
    slots.floor.replaceChildren(
      currentSpeaker(state, { me, label: true }),
      h("p", {
        class: ["status-line", status.kind !== "none" && "ok"],
        "data-testid": "my-floor-status",
        "data-kind": status.kind,
        "data-position": status.position || "",
        "data-i18n": statusKey,
        "data-i18n-args": { n: status.position },
      }),
    );
    topicRow.hidden = status.kind !== "none";
    slots.floorButtons.replaceChildren(
      status.kind === "waiting"
        ? h("button", {
            class: "btn btn-big btn-warn",
            "data-testid": "btn-withdraw",
            "data-i18n": "deputy.withdraw",
            disabled: !open,
            onclick: (event) => send(event.currentTarget, "speaker.withdraw", {}),
          })
        : h("button", {
            class: "btn btn-big btn-primary",
            "data-testid": "btn-request",
            "data-i18n": "deputy.request",
            disabled: !open || status.kind === "speaking",
            onclick: async (event) => {
              const done = await send(event.currentTarget, "speaker.request", {
                topic: topic.value.trim(),
              });
              if (done) topic.value = "";
            },
          }),
    );
  }

  function render(state) {
    last = state;
    if (!state) {
      slots.header.replaceChildren(h("p", { class: "placeholder", "data-i18n": "watch.waiting" }));
      return;
    }
    slots.header.replaceChildren(sessionHeader(state));
    renderAttendance(state);
    renderFloor(state);
    slots.queue.replaceChildren(speakersQueue(state, { me }));
    slots.agenda.replaceChildren(agendaList(state));
    const vote = state.vote;
    const mine = vote ? myBallot(vote.id, me) : {};
    const myReceipt = vote?.secret ? mine.receipt : null;
    slots.vote.replaceChildren(voteStatus(state, { me, myReceipt, sure: Boolean(mine.counted) }));
    if (!locked) ballot.render(state);
  }

  return { el, render };
}

runMemberPage({
  pageNameKey: "nav.deputy",
  allowed: (user) => Boolean(user.deputy_id),
  refusedKey: "auth.need_deputy",
  build: buildDeputyConsole,
});
