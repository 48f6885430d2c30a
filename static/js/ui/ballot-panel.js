// The deputy's ballot: appears at once when a vote opens (full screen on the tablet,
// inline on the chair's console), casts over the live socket, confirms what was
// counted, lets the deputy change it where the reglament allows, and after the close
// shows the result with the deputy's own ballot found in the published list.
//
// Secret votes: the tablet draws the receipt code itself and keeps it in localStorage
// (my-ballot.js) before sending, so a reload or a reconnect keeps it; a change sends
// the same code again. Whether the deputy has voted comes from the ack, remembered,
// or from the server (asked when a vote is first seen, and after a reconnect).
//
// Face ID with the ballot (the vote's `face_check`): "match" takes one fresh frame when
// the deputy taps a choice and sends it as `face`; "live" asks for a challenge for the
// vote and sends its frames (`face_challenge`, `face_frames`). A refusal says why; the
// deputy taps again.

import { faceChallenge } from "../auth.js";
import { CameraError } from "../camera.js";
import { h, tx } from "../dom.js";
import { lang } from "../i18n.js";
import { STATUS } from "../live.js";
import { askServer, myBallot, receiptFor, redrawReceipt, rememberBallot } from "../my-ballot.js";
import { groupReceipt } from "../receipt.js";
import { candidatePicker, yesNoButtons } from "./ballot-options.js";
import { connStatus } from "./conn-status.js";
import { countdownElement } from "./countdown.js";
import { faceCamera } from "./face-camera.js";
import { messageArea } from "./feedback.js";
import { voteBadges } from "./vote-heading.js";
import { voteProgress } from "./vote-progress.js";
import { resultPanel } from "./vote-result.js";
import { choiceLabel, isElection } from "./vote-text.js";

/**
 * - live, sessionId, me (deputy id), token: who votes where
 * - overlay: full screen (tablet) and kept after the close until dismissed; otherwise
 *   inline, shown only while the vote is open
 */
export function ballotPanel({ live, sessionId, me, token, overlay = true }) {
  const message = messageArea();
  const body = h("div", { class: "ballot-body" });
  const el = h(
    "section",
    {
      class: overlay ? "ballot-panel ballot-overlay" : "ballot-panel ballot-inline",
      "data-testid": "ballot-panel",
      role: overlay ? "dialog" : "region",
      "aria-modal": overlay ? "true" : null,
      "aria-labelledby": "ballot-question",
      hidden: true,
    },
    body,
  );
  const seen = new Set(); // votes seen open on this page: their result is shown here too
  const dismissed = new Set();
  const local = { vote: null, changing: false, sending: false, selected: new Set() };
  const fromServer = new Map(); // vote id → {voted, choice?} (GET /api/votes/{id}/mine)
  const progress = h("div");
  const camera = faceCamera(); // "Try again" after a camera refusal: tap the choice again
  // The overlay covers the header: it shows the connection itself.
  const connection = overlay ? connStatus(live) : null;
  if (connection) connection.dataset.testid = "ballot-conn";
  let last = null;
  let shownKey = null;

  const isPresent = (state) => (state.attendance?.present || []).includes(me);
  const hasVoted = (vote) =>
    Boolean(myBallot(vote.id, me).counted || fromServer.get(vote.id)?.voted);

  function ask(vote) {
    askServer(vote.id, token)
      .then((answer) => {
        fromServer.set(vote.id, answer);
        if (answer.voted) {
          const choice = answer.choice ? { choice: answer.choice } : {};
          rememberBallot(vote.id, me, { counted: true, ...choice });
        }
        if (last?.vote?.id === vote.id) render(last);
      })
      .catch(() => {}); // offline: asked again after the reconnect
  }

  // Back online: the deputy may have voted elsewhere meanwhile.
  live.addEventListener("status", () => {
    if (live.status === STATUS.ONLINE && last?.vote?.state === "open") ask(last.vote);
  });

  function forVote(vote) {
    if (local.vote !== vote.id) {
      Object.assign(local, { vote: vote.id, changing: false, sending: false });
      local.selected = new Set();
      message.clear();
      if (vote.state === "open") ask(vote);
    }
  }

  /** What the ballot carries for the vote's face check (none, one frame, a challenge). */
  async function faceProof(vote) {
    if (vote.face_check === "match") return { face: await camera.snap() };
    if (vote.face_check === "live") {
      const challenge = await faceChallenge(token, { vote: vote.id });
      const frames = await camera.challenge(challenge);
      return { face_challenge: challenge.challenge, face_frames: frames };
    }
    return {};
  }

  async function send(vote, choice) {
    const args = { session: sessionId, vote: vote.id, choice };
    const firstBallot = !hasVoted(vote);
    if (vote.secret) args.receipt = receiptFor(vote.id, me);
    local.sending = true;
    message.clear();
    render(last);
    try {
      Object.assign(args, await faceProof(vote));
    } catch (error) {
      if (!(error instanceof CameraError)) message.error(error); // the camera says its own
      local.sending = false;
      render(last);
      return;
    }
    const slow = setTimeout(
      () => message.info(live.status === STATUS.ONLINE ? "msg.sending" : "msg.waiting_network"),
      400,
    );
    try {
      let result;
      try {
        result = await live.command("vote.cast", args);
      } catch (error) {
        if (error.code !== "receipt_taken" || !firstBallot) throw error;
        // Another tablet drew the same code (80 random bits: practically never).
        args.receipt = redrawReceipt(vote.id, me);
        result = await live.command("vote.cast", args);
      }
      const choice = vote.secret ? {} : { choice: result.choice };
      rememberBallot(vote.id, me, { counted: true, ...choice });
      local.changing = false;
      local.selected = new Set();
      message.clear();
    } catch (error) {
      message.error(error);
      // Cast from another device meanwhile? Ask what the server has.
      if (["already_voted", "unknown_receipt"].includes(error.code)) ask(vote);
    } finally {
      clearTimeout(slow);
      local.sending = false;
      render(last);
    }
  }

  function registerFirst() {
    return h(
      "div",
      { class: "ballot-register", "data-testid": "ballot-register-first" },
      h("p", { class: "notice big", "data-i18n": "vote.register_first" }),
      h("button", {
        class: "btn btn-big btn-primary",
        "data-testid": "ballot-register",
        "data-i18n": "deputy.register_chamber",
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            await live.command("attendance.register", { session: sessionId, present: true });
          } catch (error) {
            message.error(error);
            button.disabled = false;
          }
        },
      }),
    );
  }

  function confirmation(state, vote) {
    const ballot = myBallot(vote.id, me);
    const canChange = Boolean(state.rules?.ballot_changes_until_close) && isPresent(state);
    const secretKnown = vote.secret && ballot.receipt;
    return h(
      "div",
      { class: "ballot-confirmation", "data-testid": "ballot-confirmation", role: "status" },
      h(
        "p",
        { class: "confirm-line" },
        h("span", { class: "confirm-icon", "aria-hidden": "true" }, "✓"),
        h("span", { "data-i18n": "vote.counted" }),
      ),
      !vote.secret && ballot.choice
        ? h(
            "p",
            { class: "confirm-choice" },
            h("span", { "data-i18n": "vote.your_choice_is" }),
            " ",
            h(
              "strong",
              { "data-testid": "my-choice", "data-choice": ballot.choice.option || "" },
              choiceLabel(ballot.choice, vote.motion),
            ),
          )
        : null,
      secretKnown ? receiptBox(ballot.receipt) : null,
      vote.secret && !secretKnown
        ? h("p", { class: "notice", "data-i18n": "vote.receipt_elsewhere" })
        : null,
      canChange && (!vote.secret || secretKnown)
        ? h("button", {
            class: "btn btn-big btn-ghost",
            "data-testid": "ballot-change",
            "data-i18n": "vote.change",
            onclick: () => {
              local.changing = true;
              render(last);
            },
          })
        : null,
    );
  }

  function receiptBox(receipt) {
    return h(
      "div",
      { class: "receipt-box" },
      h("p", { class: "receipt-label", "data-i18n": "vote.your_receipt" }),
      h(
        "p",
        { class: "receipt-big", "data-testid": "my-receipt", "data-receipt": receipt },
        groupReceipt(receipt),
      ),
      h("p", { class: "muted small", "data-i18n": "vote.receipt_keep" }),
    );
  }

  function options(state, vote) {
    const stored = myBallot(vote.id, me).choice;
    if (isElection(vote)) {
      return candidatePicker({
        motion: vote.motion,
        selected: local.selected,
        disabled: local.sending,
        onToggle: (id, on) => {
          if (on && local.selected.size < (vote.motion.max_choices || 1)) local.selected.add(id);
          else local.selected.delete(id);
          render(last);
        },
        onCast: () => {
          const order = vote.motion.candidates.map((c) => c.id);
          send(
            vote,
            order.filter((id) => local.selected.has(id)),
          );
        },
      });
    }
    return yesNoButtons({
      current: local.changing ? stored?.option : null,
      disabled: local.sending,
      onChoose: (option) => send(vote, option),
    });
  }

  function openView(state, vote) {
    const voted = hasVoted(vote);
    let main;
    if (!voted && !isPresent(state)) main = registerFirst();
    else if (voted && !local.changing) main = confirmation(state, vote);
    else main = options(state, vote);
    return [
      h(
        "div",
        { class: "ballot-top" },
        h(
          "span",
          { class: "ballot-label-row" },
          h("span", { class: "ballot-label", "data-i18n": "vote.now" }),
          connection,
        ),
        countdownElement(vote.closes_at, { class: "countdown countdown-big" }),
      ),
      voteBadges(vote),
      h("h2", { class: "ballot-question", id: "ballot-question", tabindex: "-1" }, vote.question),
      vote.secret && !voted ? h("p", { class: "muted", "data-i18n": "vote.secret_hint" }) : null,
      message.el,
      camera.el,
      main,
      local.changing
        ? h("button", {
            class: "btn btn-ghost",
            "data-testid": "ballot-keep",
            "data-i18n": "vote.keep",
            onclick: () => {
              local.changing = false;
              render(last);
            },
          })
        : null,
      progress, // filled on every render, without rebuilding the buttons
    ];
  }

  function closedView(state, vote) {
    const mine = myBallot(vote.id, me);
    const receipt = vote.secret ? mine.receipt : null;
    return [
      h(
        "div",
        { class: "ballot-top" },
        h("span", { class: "ballot-label", "data-i18n": `vote.state.${vote.state}` }),
        h("button", {
          class: "btn btn-ghost",
          "data-testid": "ballot-dismiss",
          "data-i18n": "vote.back",
          onclick: () => {
            dismissed.add(vote.id);
            render(last);
          },
        }),
      ),
      h("h2", { class: "ballot-question", id: "ballot-question" }, vote.question),
      message.el, // a ballot sent as the vote closed: "not counted"
      vote.state === "cancelled"
        ? tx("vote.cancelled_reason", { reason: vote.cancel_reason || "" }, "p", {
            class: "notice",
            "data-testid": "vote-cancelled",
          })
        : resultPanel(vote, state, {
            me,
            myReceipt: receipt,
            sure: Boolean(mine.counted),
            heading: false,
          }),
    ];
  }

  function render(state) {
    last = state;
    const vote = state?.vote;
    const open = vote?.state === "open";
    const show =
      Boolean(vote) && (open || (overlay && seen.has(vote.id) && !dismissed.has(vote.id)));
    const appearing = show && el.hidden;
    el.hidden = !show;
    if (overlay) document.body.classList.toggle("voting", show);
    if (!show) {
      body.replaceChildren();
      return;
    }
    forVote(vote);
    if (open) seen.add(vote.id);
    el.dataset.vote = vote.id;
    el.dataset.state = vote.state;
    // Rebuild only when what the deputy sees changes, not at every other deputy's
    // ballot: a button replaced under a finger would lose the tap.
    const key = viewKey(state, vote);
    if (key !== shownKey) {
      shownKey = key;
      const parts = open ? openView(state, vote) : closedView(state, vote);
      body.replaceChildren(...parts.filter(Boolean));
    }
    if (open) progress.replaceChildren(voteProgress(state, { countdown: false }));
    if (appearing) el.querySelector("#ballot-question")?.focus({ preventScroll: true });
  }

  function viewKey(state, vote) {
    return JSON.stringify([
      lang(),
      { ...vote, voted: null }, // the count is in `progress`
      vote.state === "open" ? null : state.deputies,
      hasVoted(vote),
      isPresent(state),
      state.rules?.ballot_changes_until_close,
      myBallot(vote.id, me),
      local.changing,
      local.sending,
      [...local.selected],
    ]);
  }

  return { el, render };
}
