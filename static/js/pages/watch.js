// /watch/{session}: the public view of a live sitting. No sign-in.

import { h, keepFocus } from "../dom.js";
import { onLangChange } from "../i18n.js";
import { LiveClient } from "../live.js";
import { exposeForTests, pageShell } from "../shell.js";
import { agendaList } from "../ui/agenda.js";
import { attendanceSummary } from "../ui/attendance.js";
import { decisionNotice } from "../ui/decision-notice.js";
import { broadcastPlayer } from "../ui/player.js";
import { sessionHeader } from "../ui/session-header.js";
import { currentSpeaker, speakersQueue } from "../ui/speakers.js";
import { startTimers } from "../ui/timer.js";
import { voteStatus } from "../ui/vote-status.js";
import { votesList } from "../ui/votes-list.js";

const sessionId = Number(location.pathname.split("/").filter(Boolean).pop());
const { header, main } = pageShell(null);
const live = new LiveClient();
const decision = decisionNotice(live); // "Decision No. X adopted"
let notice = null;

function card(titleKey, testid, ...content) {
  return h(
    "section",
    { class: "card", "data-testid": testid },
    h("h2", { class: "card-title", "data-i18n": titleKey }),
    ...content,
  );
}

// One player for the page's life, in a slot of its own: the parts around it are rebuilt
// on every live update, the video is never moved or restarted by them. It is left out of
// the tests' comparisons of what two pages show (data-volatile): playback differs.
const player = Number.isInteger(sessionId) && sessionId > 0 ? broadcastPlayer(sessionId) : null;
player?.el.setAttribute("data-volatile", "");
const slots = {
  above: h("div", { class: "watch-slot" }),
  below: h("div", { class: "watch-slot" }),
};
const side = h("aside", { class: "watch-side" });
const layout = h(
  "div",
  { class: "watch-layout", "data-testid": "live-view" },
  h("div", { class: "watch-stage" }, slots.above, player?.el, slots.below),
  side,
);

function render() {
  const state = live.state;
  if (!state) {
    player?.stop();
    main.replaceChildren(
      h("p", {
        class: "placeholder",
        "data-testid": "live-view",
        "data-i18n": notice || "watch.waiting",
      }),
    );
    return;
  }
  const voting = ["open", "pending_chair"].includes(state.vote?.state);
  const voteCard = state.vote ? card("vote.title", "vote-card", voteStatus(state)) : null;
  layout.dataset.seq = state.seq;
  keepFocus(main, () => {
    if (!layout.isConnected) main.replaceChildren(layout);
    slots.above.replaceChildren(
      sessionHeader(state),
      decision.el,
      voting ? voteCard : null, // a running vote comes first
    );
    slots.below.replaceChildren(
      voting ? null : voteCard,
      card("speaker.title", "speaker-card", currentSpeaker(state)),
      card("queue.title", "queue-card", speakersQueue(state)),
    );
    side.replaceChildren(
      card("attendance.title", "attendance-card", attendanceSummary(state)),
      card("watch.agenda", "agenda-card", agendaList(state)),
      state.votes?.length ? card("vote.sitting_votes", "votes-card", votesList(state)) : null,
    );
  });
  player?.update(state);
  tickNow();
}

header.setLive(live);
exposeForTests("live", live);
live.addEventListener("state", render);
live.addEventListener("notice", (event) => {
  if (event.detail.code === "not_found") {
    notice = "watch.not_found";
    live.stop();
    render();
  }
});
onLangChange(() => {
  player?.translate();
  render();
});
exposeForTests("player", player);
const tickNow = startTimers(live.clock);
render();
if (Number.isInteger(sessionId) && sessionId > 0) live.watch(sessionId);
else {
  notice = "watch.not_found";
  render();
}
