// The chair console's "Go live": the browser's camera and microphone sent to the sitting
// by WHIP (RFC 9725): POST the SDP offer with the chair's sign-in token, set the answer,
// DELETE the resource to end. Non-trickle: the offer goes once ICE gathering is done,
// with every candidate in it (the server takes no PATCH). Whether the sitting is on air
// is what the server says (state.broadcast), not what this console believes.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { candidatesGathered, iceServersOf } from "../ice.js";

// 360p30, the size the server encodes (docs/performance.md): a larger picture would only
// be scaled down there, after crossing the chamber's network.
const MEDIA = Object.freeze({
  video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true },
});

export const goLiveSupported = () =>
  typeof RTCPeerConnection === "function" && Boolean(navigator.mediaDevices?.getUserMedia);

/** Why it did not start, as a text key (the server's codes, the camera's refusals). */
function problemOf(error) {
  const name = error?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") return ["golive.camera_denied"];
  if (name === "NotFoundError" || name === "OverconstrainedError") return ["golive.camera_absent"];
  if (error?.code === "busy") return ["golive.busy"];
  if (error?.code === "session_closed") return ["golive.session_closed"];
  return ["golive.failed", { code: error?.code || name || "error" }];
}

class WhipError extends Error {
  constructor(status, code) {
    super(code);
    this.status = status;
    this.code = code;
  }
}

/** The "Go live" card: {el, render(state)}. `auth` is the chair's sign-in. */
export function goLiveCard({ auth, sessionId }) {
  const preview = h("video", {
    class: "go-live-preview",
    "data-testid": "go-live-preview",
    playsinline: true,
    hidden: true,
  });
  preview.muted = true; // the chair must not hear the chamber twice
  const status = h("p", { class: "go-live-status", "data-testid": "go-live-status" });
  const viewers = h("p", { class: "go-live-viewers", "data-testid": "go-live-viewers" });
  const problem = h("p", {
    class: "go-live-problem",
    role: "alert",
    "data-testid": "go-live-problem",
  });
  const button = h("button", {
    class: "btn btn-big btn-primary",
    type: "button",
    "data-testid": "btn-go-live",
    onclick: () => (publishing ? end() : start()),
  });
  const el = h(
    "section",
    { class: "card go-live", "data-testid": "go-live-card" },
    h("h2", { class: "card-title", "data-i18n": "golive.title" }),
    h(
      "div",
      { class: "go-live-body" },
      preview,
      h("div", { class: "stack" }, status, viewers, button),
    ),
    problem,
  );

  let publishing = null; // {pc, stream, resource} while this console sends
  let starting = false;
  let lastState = null;
  let problemText = null;

  function say(key, args) {
    problemText = key ? [key, args] : null;
    problem.textContent = key ? t(key, args) : "";
    problem.hidden = !key;
  }

  function stopLocal() {
    if (!publishing) return;
    publishing.pc.close();
    for (const track of publishing.stream.getTracks()) track.stop();
    preview.srcObject = null;
    preview.hidden = true;
    publishing = null;
  }

  async function start() {
    if (starting || publishing) return;
    say(null);
    starting = true;
    render(lastState);
    let stream = null;
    let pc = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia(MEDIA);
      pc = new RTCPeerConnection({ iceServers: await iceServersOf(`/whip/${sessionId}`) });
      for (const track of stream.getTracks()) {
        pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      }
      await pc.setLocalDescription(await pc.createOffer());
      await candidatesGathered(pc);
      const response = await fetch(`/whip/${sessionId}`, {
        method: "POST",
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${auth.token}` },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        const body = await response.json().catch(() => null);
        throw new WhipError(response.status, body?.error?.code || `http_${response.status}`);
      }
      const resource = new URL(response.headers.get("Location"), response.url).href;
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
      const mine = { pc, stream, resource };
      publishing = mine;
      pc.addEventListener("connectionstatechange", () => {
        if (publishing === mine && pc.connectionState === "failed") {
          say("golive.dropped");
          end();
        }
      });
      preview.srcObject = stream;
      preview.hidden = false;
      preview.play().catch(() => {});
    } catch (error) {
      pc?.close();
      for (const track of stream?.getTracks() || []) track.stop();
      const [key, args] = problemOf(error);
      say(key, args);
    } finally {
      starting = false;
      render(lastState);
    }
  }

  async function end({ keepalive = false } = {}) {
    const ending = publishing;
    if (!ending) return;
    stopLocal();
    render(lastState);
    try {
      await fetch(ending.resource, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${auth.token}` },
        keepalive,
      });
    } catch {
      // the server is away: it ends the broadcast itself when the connection times out
    }
  }

  function render(state) {
    lastState = state;
    // A closed sitting's broadcast is over (the server has ended it): let the camera go.
    if (publishing && state?.session?.state === "closed") end();
    const broadcast = state?.broadcast || null;
    const onAir = Boolean(broadcast?.live);
    const closed = state?.session?.state === "closed";
    status.className = `go-live-status ${onAir ? "on-air" : "off-air"}`;
    status.dataset.live = String(onAir);
    const mine = publishing || starting;
    status.textContent = t(
      onAir ? (mine ? "golive.on_air" : "golive.on_air_elsewhere") : "golive.off_air",
    );
    // How many watch (WHEP and HLS), as the server counts: state.audience.watching.
    const count = state?.audience?.watching ?? broadcast?.viewers;
    viewers.hidden = !onAir || !Number.isInteger(count);
    viewers.textContent = Number.isInteger(count) ? t("golive.viewers", { n: count }) : "";
    viewers.dataset.count = Number.isInteger(count) ? String(count) : "";
    const action = publishing ? "golive.stop" : starting ? "golive.starting" : "golive.start";
    button.textContent = t(action);
    button.className = `btn btn-big ${publishing ? "btn-danger" : "btn-primary"}`;
    button.dataset.publishing = String(Boolean(publishing));
    button.disabled = starting || (!publishing && (closed || !goLiveSupported()));
    if (!goLiveSupported() && !problemText) say("golive.unsupported");
    else if (problemText) say(...problemText); // in the language chosen since
    else problem.hidden = true;
  }

  window.addEventListener("pagehide", () => end({ keepalive: true }));
  render(null);
  return { el, render, end };
}
