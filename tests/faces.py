"""Face test helpers shared by the biometrics, server and browser tests: the test photos,
camera-like frames made from them, frames in which the person does a liveness challenge,
and the JPEG and Y4M (Chromium's fake camera) encodings of frames."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from pathlib import Path

import numpy
from PIL import Image

from biometrics.faces import models
from biometrics.images import decode
from tests.conftest import SHARED, skip_or_fail

FACES = SHARED / "faces"


def photo(name: str) -> bytes:
    """The bytes of the test photo `name` (skips, or fails in CI, when it is absent)."""
    path = FACES / name
    if not path.is_file():
        skip_or_fail(f"test photo {path} is missing")
    return path.read_bytes()


@functools.cache
def _frontal(name: str, size: tuple[int, int]) -> numpy.ndarray:
    image = decode(photo(name))
    boxes = models().find(image)
    if not boxes:
        raise ValueError(f"no face in {name}")
    left, top, right, bottom = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    width, height = size
    # The face about 40 % of the frame's width, a little above the centre, as a deputy
    # sitting in front of a laptop's camera appears.
    scale = 0.4 * width / (right - left)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    crop_w, crop_h = width / scale, height / scale
    x0, y0 = cx - crop_w / 2, cy - crop_h * 0.45
    picture = Image.fromarray(image)
    # Outside the photo the crop is padded with its mean colour, not black.
    fill = tuple(int(c) for c in image.reshape(-1, 3).mean(axis=0))
    canvas = Image.new("RGB", (round(crop_w), round(crop_h)), fill)
    canvas.paste(picture, (round(-x0), round(-y0)))
    frame = canvas.resize(size, Image.Resampling.LANCZOS)
    return numpy.asarray(frame, dtype=numpy.uint8)


def frontal_frame(name: str = "obama.jpg", size: tuple[int, int] = (640, 480)) -> numpy.ndarray:
    """The photo cropped and scaled to a camera-like RGB frame, the face large and centred."""
    return _frontal(name, size).copy()


@functools.cache
def _base_landmarks(name: str) -> numpy.ndarray:
    frame = _frontal(name, (640, 480))
    faces = models()
    return faces.landmarks(frame, faces.find(frame)[0])


def _sample(image: numpy.ndarray, src_x: numpy.ndarray, src_y: numpy.ndarray) -> numpy.ndarray:
    """Bilinear sampling of `image` at (src_x, src_y), clamped to its edges."""
    h, w = image.shape[:2]
    x = numpy.clip(src_x, 0, w - 1.001)
    y = numpy.clip(src_y, 0, h - 1.001)
    x0, y0 = x.astype(numpy.intp), y.astype(numpy.intp)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    img = image.astype(numpy.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return numpy.asarray(top * (1 - fy) + bottom * fy, dtype=numpy.float32)


def _smooth_bump(t: numpy.ndarray) -> numpy.ndarray:
    """1 at t = 0 falling smoothly to 0 at |t| >= 1."""
    t = numpy.clip(numpy.abs(t), 0, 1)
    return numpy.asarray(0.5 + 0.5 * numpy.cos(numpy.pi * t))


def _warp(frame: numpy.ndarray, marks: numpy.ndarray, closed: float, turn: float) -> numpy.ndarray:
    """The frame with both eyes `closed` (0 open … 1 shut) and the head turned by `turn`
    (-1 … 1, > 0 to the person's own left: the nose moves to the image's right)."""
    h, w = frame.shape[:2]
    ys, xs = numpy.mgrid[0:h, 0:w].astype(numpy.float64)
    src_x, src_y = xs.copy(), ys.copy()
    if closed > 0:
        for eye in (marks[36:42], marks[42:48]):
            # The upper lid drops: the skin band above it stretches down over the eye, its
            # lashes ending `closed` of the way to the lower lid; brows and the lower lid
            # stay where they are.
            upper, lower = eye[[0, 1, 2, 3]], eye[[0, 5, 4, 3]]
            columns = numpy.arange(int(numpy.ceil(eye[0, 0])), int(eye[3, 0]) + 1)
            lid_top = numpy.interp(columns, upper[:, 0], upper[:, 1]) - 1
            lid_bottom = numpy.interp(columns, lower[:, 0], lower[:, 1]) + 1
            band = max(float((lid_bottom - lid_top).max()), 3.0)
            start = lid_top - band
            lashes = lid_top + closed * (lid_bottom - lid_top)
            rows = ys[:, columns]
            covered = (rows >= start) & (rows <= lashes)
            stretched = start + (rows - start) * (lid_top - start) / (lashes - start)
            src_y[:, columns] = numpy.where(covered, stretched, rows)
    if turn != 0:
        # A horizontal piecewise-linear warp along the jaw: the nose moves towards the side
        # the face turns to, that side of the face narrows and the other widens.
        right_x, left_x, nose_x = marks[0, 0], marks[16, 0], marks[30, 0]
        width = left_x - right_x
        margin = width * 0.35
        side = left_x - nose_x if turn > 0 else nose_x - right_x
        new_nose = nose_x + turn * side * 0.45
        new_right = right_x + max(turn, 0) * width * 0.08
        new_left = left_x + min(turn, 0) * width * 0.08
        out_points = [right_x - margin, new_right, new_nose, new_left, left_x + margin]
        src_points = [right_x - margin, right_x, nose_x, left_x, left_x + margin]
        moved = numpy.interp(xs[0], out_points, src_points)
        top, bottom = marks[19, 1] - width * 0.5, marks[8, 1] + width * 0.15
        middle, half = (top + bottom) / 2, (bottom - top) / 2
        weight = _smooth_bump(
            numpy.clip(numpy.abs(ys[:, 0] - middle) - half * 0.7, 0, None) / (half * 0.6)
        )
        src_x = xs + weight[:, None] * (moved[None, :] - xs)
    return _sample(frame, src_x, src_y)


def _profile(action: str, step: int, k: int) -> tuple[float, float]:
    """(closed, turn) at frame `step` of a segment of `k` frames: still for the first
    fifth (reaction time), the action, then neutral again before the segment ends."""
    t = (step + 0.5) / k
    if action == "blink":
        # A deliberate blink of about 0.3 s in the segment's middle.
        closed = float(numpy.clip(1 - abs(t - 0.45) / 0.2, 0, 1)) ** 0.5
        return (round(closed, 2), 0.0)
    amount = float(numpy.clip(min(t - 0.15, 0.85 - t) / 0.2, 0, 1))
    return (0.0, amount if action == "turn_left" else -amount)


def challenge_poses(actions: Sequence[str], frames_per_action: int) -> list[tuple[float, float]]:
    """(closed, turn) of each frame `challenge_frames` makes: what the person is doing."""
    return [
        _profile(a, step, frames_per_action) for a in actions for step in range(frames_per_action)
    ]


def challenge_frames(
    actions: Sequence[str], frames_per_action: int, name: str = "obama.jpg"
) -> list[numpy.ndarray]:
    """Frames made from the test photo in which the person does `actions` in order, each
    inside its own segment of `frames_per_action` frames, neutral frames around each, with
    a little sensor noise so that no two frames are identical."""
    base = _frontal(name, (640, 480))
    marks = _base_landmarks(name)
    rng = numpy.random.default_rng(len(actions) * 1000 + frames_per_action)
    frames: list[numpy.ndarray] = []
    cache: dict[tuple[float, float], numpy.ndarray] = {}
    for action in actions:
        if action not in ("blink", "turn_left", "turn_right"):
            raise ValueError(f"unknown action {action!r}")
        for step in range(frames_per_action):
            pose = _profile(action, step, frames_per_action)
            if pose not in cache:
                cache[pose] = (
                    _warp(base, marks, *pose) if pose != (0.0, 0.0) else base.astype(numpy.float32)
                )
            noisy = cache[pose] + rng.normal(0, 2.0, base.shape)
            frames.append(numpy.clip(noisy, 0, 255).astype(numpy.uint8))
    return frames


def jpeg(frame: numpy.ndarray, quality: int = 85) -> bytes:
    """The frame as JPEG bytes, as a browser's canvas.toBlob would send it."""
    out = io.BytesIO()
    Image.fromarray(frame).save(out, "JPEG", quality=quality)
    return out.getvalue()


def write_y4m(path: Path, frames: Sequence[numpy.ndarray], fps: int = 10) -> None:
    """The frames as a YUV4MPEG2 (C420, BT.601 studio range) file for Chromium's
    `--use-file-for-fake-video-capture=`; Chromium loops it."""
    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("4:2:0 needs an even width and height")
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            if frame.shape[:2] != (h, w):
                raise ValueError("every frame must have the same size")
            rgb = frame[..., :3].astype(numpy.float64) / 255
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
            u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
            v = 128 + 112.0 * r - 93.786 * g - 18.214 * b

            def half(plane: numpy.ndarray) -> numpy.ndarray:
                return numpy.asarray(plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))

            out.write(b"FRAME\n")
            for plane in (y, half(u), half(v)):
                out.write(numpy.clip(numpy.rint(plane), 0, 255).astype(numpy.uint8).tobytes())
