// The broadcast player of /watch/{session}.
//
// While the sitting is on air it plays the live HLS playlist: natively where the browser
// plays HLS itself (Safari, iOS, recent Chromium), otherwise with the vendored hls.js
// (static/vendor/, loaded only then). Where WebRTC exists a "low delay" switch plays the
// same picture over WHEP instead (about a fifth of a second behind the chamber rather
// than a few seconds). Off air, it plays the recording so far, or the whole recording
// once the sitting is closed (with hls.js wherever Media Source exists: see playHls),
// with its chapters (agenda items, speeches, votes) read from chapters.vtt. It follows `state.broadcast.live` without a reload: a publisher
// who drops and reconnects only takes the viewers to the recording and back.
//
// Playback starts muted (browsers refuse autoplay with sound); a visible button turns
// the sound on.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { candidatesGathered, iceServersOf } from "../ice.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";
// hls.js's ES module build does not inline its worker: load it from here ('self'),
// so the Content-Security-Policy need not allow blob: workers.
const HLS_WORKER = new URL("../../vendor/hls.worker.js", import.meta.url).href;
const RETRY_MS = 2000; // a live playlist 404s for the first second or so of a broadcast
const WHEP_DISCONNECTED_MS = 4000; // "disconnected" may heal by itself; "failed" does not
const ENDLIST_WAIT_TRIES = 15; // of RETRY_MS / 2: a closed sitting's recording ends soon after

let hlsLibrary = null;
function loadHls() {
  hlsLibrary ??= import("../../vendor/hls.light.min.mjs").then((module) => module.default);
  return hlsLibrary;
}

export const lowDelaySupported = () => typeof RTCPeerConnection === "function";

// -- chapters (WebVTT) -----------------------------------------------------------------

function vttSeconds(stamp) {
  // "hh:mm:ss.ttt" or "mm:ss.ttt" (WebVTT §4.2: hours are optional)
  const m = /^(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})$/.exec(stamp);
  if (!m) return Number.NaN;
  return Number(m[1] || 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

function cueText(lines) {
  // Chapter titles are plain text; drop any cue tags and undo the three escapes.
  const text = lines.join(" ").replace(/<[^>]*>/g, "");
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&nbsp;/g, "\u00a0")
    .replace(/&amp;/g, "&")
    .trim();
}

/** The cues of a WebVTT chapters file: [{start, end, title}] in seconds, by start. */
export function parseChapters(text) {
  if (!/^\uFEFF?WEBVTT(?:[ \t].*)?$/m.test(text.split(/\r\n?|\n/, 1)[0])) return [];
  const cues = [];
  for (const block of text.replace(/\r\n?/g, "\n").split(/\n{2,}/)) {
    const lines = block.split("\n");
    const at = lines.findIndex((line) => line.includes("-->"));
    if (at < 0) continue; // the header, NOTE, STYLE and REGION blocks
    const [from, to] = lines[at].split("-->");
    const start = vttSeconds(from.trim());
    const end = vttSeconds(to.trim().split(/[ \t]+/)[0]);
    const title = cueText(lines.slice(at + 1));
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start && title) {
      cues.push({ start, end, title });
    }
  }
  return cues.sort((a, b) => a.start - b.start || b.end - a.end);
}

function clockOf(seconds) {
  const s = Math.floor(seconds);
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}

// -- the player ------------------------------------------------------------------------

/**
 * The player of sitting `sessionId`: {el, update(state), stop()}. `el` stays the same
 * element for the page's life (the page moves it, never rebuilds it: rebuilding would
 * restart the video on every live update).
 */
export function broadcastPlayer(sessionId) {
  const base = `/hls/${sessionId}`;
  const video = h("video", {
    class: "player-video",
    "data-testid": "player-video",
    playsinline: true,
    controls: true,
    preload: "auto",
  });
  video.muted = true; // the property: the attribute only sets the default
  const unmute = h("button", {
    class: "btn player-unmute",
    type: "button",
    "data-testid": "player-unmute",
    "data-i18n": "player.unmute",
    hidden: true,
    onclick: () => {
      video.muted = false;
      video.volume = 1;
      video.play().catch(() => {});
    },
  });
  const lowDelay = h("button", {
    class: "btn player-low-delay",
    type: "button",
    "data-testid": "player-low-delay",
    "data-i18n": "player.low_delay",
    "aria-pressed": "false",
    hidden: true,
    onclick: () => setLowDelay(!wantLowDelay),
  });
  const badge = h("span", { class: "player-badge", "data-testid": "player-badge" });
  const notice = h("p", { class: "player-notice", "data-testid": "player-notice", hidden: true });
  const chapterList = h("ol", { class: "chapter-list", "data-testid": "chapter-list" });
  const chapters = h(
    "section",
    { class: "player-chapters", "data-testid": "player-chapters", hidden: true },
    h("h3", { class: "sub-title", "data-i18n": "player.chapters" }),
    chapterList,
  );
  const placeholder = h(
    "div",
    { class: "video", "data-testid": "video-placeholder" },
    h("span", { class: "video-icon", "aria-hidden": "true" }),
    h("p", { class: "video-label", "data-i18n": "watch.broadcast_not_started" }),
  );
  const screen = h("div", { class: "player-screen", hidden: true }, video, badge);
  const el = h(
    "section",
    { class: "player", "data-testid": "player", "data-mode": "none", "data-engine": "" },
    placeholder,
    screen,
    h("div", { class: "player-bar" }, unmute, lowDelay),
    notice,
    chapters,
  );

  let mode = "none"; // "none" | "live" | "recording"
  let engine = ""; // "native" | "hlsjs" | "whep"
  let generation = 0; // bumped on every switch: late answers of an earlier one are dropped
  let wantLowDelay = false;
  let hls = null;
  let peer = null;
  let whepResource = null;
  let retryTimer = null;
  let seen = { live: null, closed: null };
  let cues = [];
  let noticeKey = null;

  function say(key) {
    noticeKey = key;
    notice.hidden = !key;
    notice.textContent = key ? t(key) : "";
  }

  function showControls() {
    const shows = mode !== "none";
    placeholder.hidden = shows;
    screen.hidden = !shows;
    unmute.hidden = !shows || !video.muted;
    lowDelay.hidden = mode !== "live" || !lowDelaySupported();
    lowDelay.setAttribute("aria-pressed", String(wantLowDelay));
    lowDelay.classList.toggle("on", wantLowDelay);
    chapters.hidden = mode !== "recording" || !cues.length;
    badge.hidden = !shows;
    badge.className = `player-badge ${mode}`;
    badge.textContent =
      mode === "live" ? t("player.live") : mode === "recording" ? t("player.recording") : "";
    el.dataset.mode = mode;
    el.dataset.engine = engine;
  }

  video.addEventListener("volumechange", showControls);
  video.addEventListener("error", () => {
    // The browser's own HLS gives up on a 404 or a stall: try again while still wanted.
    if (engine === "native" && mode !== "none") retry(generation, () => restart());
  });
  video.addEventListener("timeupdate", markCurrentChapter);
  // A chapter chosen before the recording's length is known is sought once it is; the
  // browser's own HLS would otherwise start an EVENT playlist at its end, not its start.
  let pendingSeek = null;
  video.addEventListener("loadedmetadata", () => {
    if (mode !== "recording") return;
    video.currentTime = pendingSeek ?? 0;
    pendingSeek = null;
  });

  function seekTo(seconds) {
    if (video.readyState >= HTMLMediaElement.HAVE_METADATA) video.currentTime = seconds;
    else pendingSeek = seconds;
    video.play().catch(() => {});
  }

  function retry(gen, again) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (gen === generation) again();
    }, RETRY_MS);
  }

  function teardown() {
    generation += 1;
    clearTimeout(retryTimer);
    if (hls) {
      hls.destroy();
      hls = null;
    }
    leaveWhep();
    video.srcObject = null;
    if (video.hasAttribute("src")) {
      video.removeAttribute("src");
      video.load();
    }
    engine = "";
    pendingSeek = null;
  }

  // -- HLS ---------------------------------------------------------------------------

  function playNatively(url) {
    engine = "native";
    showControls();
    video.src = url;
  }

  async function playHls(url, { live }) {
    const gen = generation;
    video.autoplay = live;
    const native = video.canPlayType(HLS_TYPE) !== "";
    // Live: the browser's own HLS where it has one. The recording: hls.js wherever Media
    // Source exists, since Chromium's own HLS cannot seek in an EVENT playlist (it
    // plays one as live, of no known length); Safari without MSE plays it natively.
    if (native && live) {
      playNatively(url);
      return;
    }
    let Hls = null;
    try {
      Hls = await loadHls();
    } catch {
      // not loaded: the browser's own HLS, if any, is all there is
    }
    if (gen !== generation) return;
    if (!Hls?.isSupported()) {
      if (native) playNatively(url);
      else say("player.unsupported");
      return;
    }
    engine = "hlsjs";
    showControls();
    const player = new Hls({
      workerPath: HLS_WORKER,
      // The recording from its beginning (an EVENT playlist would start at its end).
      startPosition: live ? -1 : 0,
      // Two segments behind the live edge, not three: with 1-second segments every
      // join stays within about 3.2 s of the chamber (docs/performance.md, Broadcast).
      liveSyncDurationCount: 2,
      // No metadata text track: hls.js would load it from a data: URL (the CSP refuses
      // media from data:), and the chapters come from chapters.vtt anyway.
      enableDateRangeMetadataCues: false,
      enableID3MetadataCues: false,
      enableEmsgMetadataCues: false,
    });
    hls = player;
    player.on(Hls.Events.ERROR, (event, data) => {
      if (!data.fatal || player !== hls) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        player.recoverMediaError();
        return;
      }
      // The playlist is not there yet, or the network went: start over shortly.
      player.destroy();
      hls = null;
      retry(gen, () => restart());
    });
    player.loadSource(url);
    player.attachMedia(video);
  }

  // -- WHEP --------------------------------------------------------------------------

  function leaveWhep({ keepalive = false } = {}) {
    if (peer) {
      peer.close();
      peer = null;
    }
    if (whepResource) {
      // Free the server's viewer at once rather than when its ICE times out.
      fetch(whepResource, { method: "DELETE", keepalive }).catch(() => {});
      whepResource = null;
    }
  }


  async function playWhep() {
    const gen = generation;
    engine = "whep";
    showControls();
    const iceServers = await iceServersOf(`/whep/${sessionId}`);
    if (gen !== generation) return;
    const pc = new RTCPeerConnection({ iceServers });
    peer = pc;
    const stream = new MediaStream();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addEventListener("track", (event) => stream.addTrack(event.track));
    video.autoplay = true;
    video.srcObject = stream;
    let disconnected = null;
    pc.addEventListener("connectionstatechange", () => {
      if (gen !== generation) return;
      clearTimeout(disconnected);
      if (pc.connectionState === "failed") rejoin(gen);
      else if (pc.connectionState === "disconnected") {
        disconnected = setTimeout(() => rejoin(gen), WHEP_DISCONNECTED_MS);
      }
    });
    let response;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await candidatesGathered(pc);
      if (gen !== generation) return;
      response = await fetch(`/whep/${sessionId}`, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
    } catch {
      if (gen === generation) rejoin(gen); // the server is away for a moment
      return;
    }
    if (response.status === 201) {
      const resource = new URL(response.headers.get("Location"), response.url).href;
      const answer = await response.text();
      if (gen !== generation) {
        fetch(resource, { method: "DELETE" }).catch(() => {});
        return;
      }
      whepResource = resource;
      try {
        await pc.setRemoteDescription({ type: "answer", sdp: answer });
      } catch {
        if (gen === generation) fallBackToHls("player.low_delay_failed");
      }
      return;
    }
    if (gen !== generation) return;
    if (response.status === 404) {
      // not_live: off air between the event and our offer; broadcast.changed follows.
      rejoin(gen);
      return;
    }
    fallBackToHls(response.status === 429 ? "player.low_delay_full" : "player.low_delay_failed");
  }

  function rejoin(gen) {
    // A publisher who reconnects gives a new picture: offer again, on a fresh connection.
    leaveWhep();
    retry(gen, () => restart());
  }

  function fallBackToHls(key) {
    wantLowDelay = false;
    say(key);
    restart();
  }

  function setLowDelay(on) {
    wantLowDelay = on && lowDelaySupported();
    say(null);
    restart();
  }

  // -- the recording and its chapters -----------------------------------------------

  async function loadChapters(gen) {
    let text = "";
    try {
      const response = await fetch(`${base}/chapters.vtt`, { cache: "no-cache" });
      if (response.ok) text = await response.text();
    } catch {
      // no chapters: the recording plays without them
    }
    if (gen !== generation) return;
    cues = parseChapters(text);
    chapterList.replaceChildren(
      ...cues.map((cue, index) =>
        h(
          "li",
          {
            class: [
              "chapter",
              cues.some((outer, i) => i < index && outer.start <= cue.start && cue.end <= outer.end)
                ? "nested"
                : "",
            ],
          },
          h(
            "button",
            {
              type: "button",
              class: "chapter-button",
              "data-testid": "chapter",
              "data-start": cue.start,
              onclick: () => seekTo(cue.start),
            },
            h("span", { class: "chapter-time" }, clockOf(cue.start)),
            h("span", { class: "chapter-title" }, cue.title),
          ),
        ),
      ),
    );
    showControls();
    markCurrentChapter();
  }

  function markCurrentChapter() {
    if (mode !== "recording") return;
    const now = video.currentTime;
    let current = -1; // the innermost chapter that holds `now`: the latest to start
    cues.forEach((cue, i) => {
      if (cue.start <= now && now < cue.end) current = i;
    });
    chapterList.querySelectorAll(".chapter-button").forEach((button, i) => {
      if (i === current) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  }

  /** Whether the recording is there and, if `closed`, finished: the server writes its
   *  ENDLIST and last chapter ends just after the sitting closes; wait a little for them. */
  async function recordingReady(gen, closed) {
    for (let attempt = 0; gen === generation; attempt += 1) {
      let text = null;
      try {
        const response = await fetch(`${base}/recording.m3u8`, { cache: "no-cache" });
        if (response.ok) text = await response.text();
      } catch {
        // the server is away: as if there were nothing
      }
      if (text === null) return false;
      if (!closed || text.includes("#EXT-X-ENDLIST") || attempt >= ENDLIST_WAIT_TRIES) {
        return gen === generation;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS / 2));
    }
    return false;
  }

  // -- switching ---------------------------------------------------------------------

  async function restart() {
    teardown();
    const gen = generation;
    if (seen.live) {
      mode = "live";
      cues = [];
      showControls();
      if (wantLowDelay) await playWhep();
      else await playHls(`${base}/index.m3u8`, { live: true });
      return;
    }
    if (await recordingReady(gen, seen.closed)) {
      mode = "recording";
      showControls();
      await playHls(`${base}/recording.m3u8`, { live: false });
      await loadChapters(gen);
      return;
    }
    if (gen !== generation) return;
    mode = "none";
    cues = [];
    showControls();
  }

  /** Follow the sitting's state: on air, off air, closed. */
  function update(state) {
    const live = Boolean(state?.broadcast?.live);
    const closed = state?.session?.state === "closed";
    if (live === seen.live && closed === seen.closed) return;
    seen = { live, closed };
    restart();
  }

  function stop() {
    teardown();
    mode = "none";
    seen = { live: null, closed: null }; // the next state starts it again
    showControls();
  }

  function translateTexts() {
    say(noticeKey);
    showControls();
  }

  window.addEventListener("pagehide", () => leaveWhep({ keepalive: true }));
  showControls();
  return { el, update, stop, translate: translateTexts, video };
}
