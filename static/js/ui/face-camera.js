// The camera view Face ID shows while it takes frames: the mirrored preview, a short
// 3-2-1 "get ready", each action's prompt, big, during its frames; the camera is
// closed again as soon as the frames are taken. Where the camera is refused or
// missing it says so, with a "Try again" button.

import { CameraError, captureActions, openCamera, sleep } from "../camera.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const GET_READY_SECONDS = 3;

function say(target, key, args = {}) {
  target.setAttribute("data-i18n", key);
  target.setAttribute("data-i18n-args", JSON.stringify(args));
  target.textContent = t(key, args);
}

/** `onRetry()`: what "Try again" does after a camera refusal. */
export function faceCamera({ onRetry = () => {} } = {}) {
  const video = h("video", {
    class: "face-video",
    "data-testid": "face-video",
    autoplay: true,
    muted: true,
    playsinline: true,
  });
  const prompt = h("p", { class: "face-prompt", "data-testid": "face-prompt", role: "status" });
  const stage = h("div", { class: "face-stage", hidden: true }, video, prompt);
  const problem = h("p", { class: "notice face-problem", "data-testid": "face-camera-problem" });
  const retry = h("button", {
    class: "btn btn-primary",
    type: "button",
    "data-testid": "face-camera-retry",
    "data-i18n": "face.try_again",
    onclick: () => {
      trouble.hidden = true;
      onRetry();
    },
  });
  const trouble = h("div", { class: "face-trouble", hidden: true }, problem, retry);
  const el = h("div", { class: "face-camera", "data-testid": "face-camera" }, stage, trouble);
  let busy = false;

  function showPrompt(key, dataset = {}) {
    say(prompt, key, dataset.args || {});
    prompt.dataset.action = dataset.action || "";
  }

  /** Run `use(camera)` with the camera open and shown; closed afterwards, whatever happens. */
  async function withCamera(use) {
    if (busy) throw new CameraError("busy");
    busy = true;
    trouble.hidden = true;
    el.dataset.camera = "opening";
    stage.hidden = false;
    showPrompt("face.opening");
    let camera = null;
    try {
      camera = await openCamera(video);
      el.dataset.camera = "on";
      return await use(camera);
    } catch (error) {
      if (error instanceof CameraError) {
        say(problem, `face.camera.${error.code}`);
        problem.dataset.code = error.code;
        trouble.hidden = false;
      }
      throw error;
    } finally {
      camera?.stop();
      stage.hidden = true;
      el.dataset.camera = "off";
      busy = false;
    }
  }

  /** The frames for a liveness challenge: {actions, frames_per_action, interval_ms}. */
  function challenge({ actions, frames_per_action: perAction, interval_ms: intervalMs }) {
    return withCamera(async (camera) => {
      for (let n = GET_READY_SECONDS; n > 0; n -= 1) {
        showPrompt("face.get_ready", { args: { n }, action: "ready" });
        await sleep(1000);
      }
      return captureActions(camera, {
        actions,
        framesPerAction: perAction,
        intervalMs,
        onAction: (action) => showPrompt(`face.action.${action}`, { action }),
      });
    });
  }

  /** One fresh frame (the camera opens, shows a picture, is read once, and closes). */
  function snap() {
    return withCamera(async (camera) => {
      showPrompt("face.look", { action: "look" });
      return camera.grab();
    });
  }

  return {
    el,
    challenge,
    snap,
    get busy() {
      return busy;
    },
  };
}
