"""What the server's pool workers run: bytes in, plain picklable dataclasses out, no I/O.

`enrol` turns 1–5 photos into descriptors; `match` checks one frame against a deputy's
descriptors; `challenge` checks a liveness challenge's frames (one face, the deputy's, doing
the asked actions in order)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy

from biometrics import liveness
from biometrics.faces import Box, models
from biometrics.images import ImageError, decode
from biometrics.liveness import Action
from biometrics.matching import THRESHOLD, closest

# Camera frames: the browser sends 640x480; nothing larger is needed.
FRAME_SIDE = 640
# Descriptors cost ~100 ms each, so a challenge compares only a few frames, spread over it.
MIN_COMPARED = 3
# Searching every frame at full size is most of a challenge's cost. Between full searches
# (every FULL_SEARCH_EVERY-th frame, which also find smaller faces in the background) the
# frame is searched shrunk so that the face found last is about SEARCH_WIDTH pixels wide:
# still well above the detector's 80-pixel minimum.
FULL_SEARCH_EVERY = 3
SEARCH_WIDTH = 130
# A camera that delivers fewer frames than the page samples repeats a few; a held-up photo
# or a replayed still repeats them all.
MAX_REPEATED_FRACTION = 0.25


class FaceError(Exception):
    """An enrolment photo refused: `index` names the photo."""

    def __init__(self, code: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.index = index

    def __reduce__(self) -> tuple[type[FaceError], tuple[str, str, int | None]]:
        # Crosses the process pool's pickle boundary with all three fields.
        return (FaceError, (self.code, self.message, self.index))


@dataclass(frozen=True)
class Sample:
    box: Box
    width: int
    height: int
    descriptor: list[float]


@dataclass(frozen=True)
class FaceCheck:
    ok: bool
    # "" when ok; else bad_image, image_too_large, bad_frames, no_face, several_faces,
    # face_mismatch or liveness_failed
    code: str
    message: str
    distance: float | None  # the largest distance to the samples among the frames compared
    frame: int | None  # the frame that failed, where one did


def _one_face(image: numpy.ndarray, what: str, scale: float = 1.0) -> Box:
    boxes = models().find(image, scale=scale)
    if scale < 1 and len(boxes) != 1:
        boxes = models().find(image)  # the shrunk search sees only large faces: look again
    if not boxes:
        raise FaceError("no_face", f"No face was found in {what}.")
    if len(boxes) > 1:
        raise FaceError("several_faces", f"{len(boxes)} faces were found in {what}; one is needed.")
    return boxes[0]


def enrol(images: Sequence[bytes]) -> list[Sample]:
    """One Sample per photo, in order; FaceError naming the first photo refused."""
    samples = []
    for index, data in enumerate(images):
        try:
            image = decode(data)
            box = _one_face(image, f"photo {index + 1}")
        except ImageError as e:
            raise FaceError(e.code, f"Photo {index + 1}: {e.message}", index) from e
        except FaceError as e:
            raise FaceError(e.code, e.message, index) from e
        descriptor = models().descriptor(image, box)
        height, width = image.shape[:2]
        samples.append(Sample(box, width, height, [float(v) for v in descriptor]))
    return samples


def _failed(code: str, message: str, frame: int | None, distance: float | None = None) -> FaceCheck:
    return FaceCheck(False, code, message, distance, frame)


def match(
    frame: bytes, samples: Sequence[Sequence[float]], threshold: float = THRESHOLD
) -> FaceCheck:
    """Whether the one face in `frame` is the enrolled person's (distance <= threshold)."""
    try:
        image = decode(frame, max_side=FRAME_SIDE)
        box = _one_face(image, "the picture")
    except (ImageError, FaceError) as e:
        return _failed(e.code, e.message, 0)
    found = closest(samples, models().descriptor(image, box))
    if found > threshold:
        return _failed("face_mismatch", "The face does not match the deputy's.", 0, found)
    return FaceCheck(True, "", "", found, None)


def _compared_frames(yaws: Sequence[float], parts: int) -> list[int]:
    """One frame from each of `parts` equal stretches of the sequence: its most frontal,
    where the descriptor is most reliable."""
    n = len(yaws)
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [
        min(range(lo, hi), key=lambda j: abs(yaws[j]))
        for lo, hi in itertools.pairwise(bounds)
        if hi > lo
    ]


def challenge(
    frames: Sequence[bytes],
    actions: Sequence[Action],
    frames_per_action: int,
    samples: Sequence[Sequence[float]],
    threshold: float = THRESHOLD,
) -> FaceCheck:
    """A liveness challenge's frames checked: one face in each, the enrolled person's in the
    few compared (at least one per action), the actions done in order."""
    unknown = [a for a in actions if a not in liveness.ACTIONS]
    if unknown:
        raise ValueError(f"unknown actions: {unknown}")
    expected = len(actions) * frames_per_action
    if frames_per_action < 1 or not actions or len(frames) != expected:
        return _failed("bad_frames", f"Expected {expected} frames, got {len(frames)}.", None)
    digests = [hashlib.blake2b(f, digest_size=16).digest() for f in frames]
    repeats = sum(a == b for a, b in itertools.pairwise(digests))
    if repeats > MAX_REPEATED_FRACTION * (len(frames) - 1):
        return _failed("liveness_failed", "The same picture was sent again and again.", None)
    faces = models()
    images: list[numpy.ndarray] = []
    boxes: list[Box] = []
    marks: list[numpy.ndarray] = []
    for index, data in enumerate(frames):
        scale = 1.0
        if boxes and index % FULL_SEARCH_EVERY:
            scale = min(1.0, SEARCH_WIDTH / max(1, boxes[-1][2] - boxes[-1][0]))
        try:
            image = decode(data, max_side=FRAME_SIDE)
            box = _one_face(image, f"frame {index + 1}", scale)
        except (ImageError, FaceError) as e:
            return _failed(e.code, e.message, index)
        images.append(image)
        boxes.append(box)
        marks.append(faces.landmarks(image, box))
    same = sum(numpy.array_equal(a, b) for a, b in itertools.pairwise(marks))
    if same > MAX_REPEATED_FRACTION * (len(frames) - 1):
        return _failed(
            "liveness_failed", "The face did not move at all: a photo is not accepted.", None
        )
    readings = [liveness.Reading(liveness.eye_aspect_ratio(m), liveness.head_yaw(m)) for m in marks]
    worst: float | None = None
    for index in _compared_frames([r.yaw for r in readings], max(MIN_COMPARED, len(actions))):
        found = closest(samples, faces.descriptor(images[index], boxes[index]))
        worst = found if worst is None else max(worst, found)
        if found > threshold:
            return _failed("face_mismatch", "The face does not match the deputy's.", index, found)
    verdict = liveness.check(readings, actions, frames_per_action)
    if not verdict.ok:
        return _failed("liveness_failed", verdict.reason, None, worst)
    return FaceCheck(True, "", "", worst, None)
