// The Face ID challenge after sign-in on the deputy's tablet. GET /api/me says what the
// council asks (`face.signin`: "off", "optional", "required"); unless the sign-in is
// face-verified already, the card asks for the camera challenge: before the tablet
// when it is required, above it (with "Not now") when it is optional. A success is a
// new, face-verified sign-in, handed to `onVerified(auth)`.

import { getJSON } from "../api.js";
import { faceChallenge, signInWithFace } from "../auth.js";
import { CameraError } from "../camera.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { faceCamera } from "./face-camera.js";
import { messageArea } from "./feedback.js";

/**
 * `onMode(mode)` once /api/me has answered: "required" (the tablet waits), "optional"
 * or "none"; `onVerified(auth)` after the challenge is passed.
 */
export function faceSignIn({ auth, onMode = () => {}, onVerified }) {
  const message = messageArea();
  message.el.dataset.testid = "face-signin-error";
  const camera = faceCamera({ onRetry: () => start() });
  const lead = h("p", { class: "face-lead", "data-testid": "face-signin-lead" });
  const begin = h("button", {
    class: "btn btn-big btn-primary",
    type: "button",
    "data-testid": "face-start",
    "data-i18n": "face.signin.start",
    onclick: () => start(),
  });
  const skip = h("button", {
    class: "btn btn-ghost",
    type: "button",
    "data-testid": "face-skip",
    "data-i18n": "face.signin.skip",
    onclick: () => {
      el.hidden = true;
    },
  });
  const buttons = h("div", { class: "button-row" }, begin, skip);
  const el = h(
    "section",
    { class: "card card-wide face-signin", "data-testid": "face-signin", hidden: true },
    h("h2", { class: "card-title", "data-i18n": "face.signin.title" }),
    lead,
    camera.el,
    message.el,
    buttons,
  );

  function say(target, key) {
    target.setAttribute("data-i18n", key);
    target.textContent = t(key);
  }

  async function start() {
    if (camera.busy) return;
    message.clear();
    buttons.hidden = true;
    el.dataset.state = "challenge";
    try {
      const challenge = await faceChallenge(auth.token);
      const frames = await camera.challenge(challenge);
      el.dataset.state = "checking";
      message.info("face.signin.checking");
      const verified = await signInWithFace(challenge.challenge, frames, auth.token);
      message.clear();
      el.dataset.state = "verified";
      onVerified(verified);
    } catch (error) {
      el.dataset.state = "failed";
      if (!(error instanceof CameraError)) {
        message.error(error);
        buttons.hidden = false;
        say(begin, "face.try_again");
      }
    }
  }

  getJSON("/api/me", { token: auth.token })
    .then((me) => {
      const face = me.face;
      const mode = face && !me.face_verified ? face.signin : "off";
      if (mode !== "required" && mode !== "optional") {
        onMode("none");
        return;
      }
      if (!face.enrolled && mode === "optional") {
        onMode("none"); // nothing to check against: nothing to offer
        return;
      }
      el.hidden = false;
      el.dataset.mode = mode;
      skip.hidden = mode === "required";
      if (!face.enrolled) {
        say(lead, "face.signin.not_enrolled");
        buttons.hidden = true;
      } else say(lead, `face.signin.${mode}`);
      onMode(mode);
    })
    .catch(() => onMode("none")); // the server is away: the socket will say so

  return { el };
}
