// The front camera, for Face ID: open it into a <video> (the preview is mirrored by
// CSS only), take frames as base64 JPEG (no "data:" prefix) drawn from the UNMIRRORED
// video, and stop every track as soon as the frames are taken, so the camera light
// goes off; the next use opens it again.

export const CONSTRAINTS = Object.freeze({
  audio: false,
  video: { width: 640, height: 480, facingMode: "user" },
});
const JPEG_QUALITY = 0.8;
const FIRST_FRAME_MS = 10000;

/** Why the camera could not be used: code is "denied", "absent" or "failed". */
export class CameraError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

function cameraErrorOf(error) {
  const name = error?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") return new CameraError("denied");
  if (name === "NotFoundError" || name === "OverconstrainedError") return new CameraError("absent");
  return new CameraError("failed", error?.message);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function firstFrame(video) {
  if (video.readyState >= 2 && video.videoWidth > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CameraError("failed", "no picture")), FIRST_FRAME_MS);
    video.addEventListener(
      "loadeddata",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** A base64 JPEG of what the video shows now, as the camera sees it (not mirrored). */
export function grabFrame(video, canvas = document.createElement("canvas")) {
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => {
        if (!blob) {
          reject(new CameraError("failed", "no frame"));
          return;
        }
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
        reader.onerror = () => reject(new CameraError("failed", "no frame"));
        reader.readAsDataURL(blob);
      },
      "image/jpeg",
      JPEG_QUALITY,
    );
  });
}

/**
 * Open the camera into `video`; resolves once it shows a picture with
 * {grab() → base64 JPEG, stop()}. Rejects with a CameraError.
 */
export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError("absent");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
  } catch (error) {
    throw cameraErrorOf(error);
  }
  const canvas = document.createElement("canvas");
  const stop = () => {
    for (const track of stream.getTracks()) track.stop();
    if (video.srcObject === stream) video.srcObject = null;
  };
  try {
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    await firstFrame(video);
  } catch (error) {
    stop();
    throw error instanceof CameraError ? error : cameraErrorOf(error);
  }
  return { grab: () => grabFrame(video, canvas), stop };
}

/**
 * Take `framesPerAction` frames for each action, one every `intervalMs`, calling
 * `onAction(action, i)` as each action's segment begins; resolves the frames in order.
 */
export async function captureActions(camera, { actions, framesPerAction, intervalMs, onAction }) {
  const frames = [];
  for (const [i, action] of actions.entries()) {
    onAction(action, i);
    for (let n = 0; n < framesPerAction; n += 1) {
      const started = performance.now();
      frames.push(await camera.grab());
      await sleep(Math.max(0, intervalMs - (performance.now() - started)));
    }
  }
  return frames;
}
