"""Liveness challenges judged from 68-point landmarks: the person blinks or turns their head
as asked, each action inside the part of the sequence when the page showed it.

Frames come at 10 per second; the page shows action i while it captures frames
[i*k, (i+1)*k). Thresholds below were measured by bench/face.py (docs/faceid.md)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy

Action = Literal["blink", "turn_left", "turn_right"]
ACTIONS: tuple[Action, ...] = ("blink", "turn_left", "turn_right")

# Eyes count as closed below CLOSED_FRACTION of the person's own open EAR and open again
# from OPEN_FRACTION of it, because open EARs differ from person to person (0.22 to 0.36
# on the test frames). Open frames measured 0.92…1.10 of the person's open EAR, the
# deepest frame of each blink 0.48…0.66 (bench/face.py).
CLOSED_FRACTION = 0.7
OPEN_FRACTION = 0.85
# A turn: head_yaw at least this far from the person's rest pose, having started within
# FRONTAL_YAW of it. The rest pose is the median of the first REST_FRAMES frames: nobody
# moves within 0.3 s of an instruction appearing, and a camera beside the screen sees a
# face at rest a little from the side (test photos rest at -0.46…+0.29). TURN_YAW 0.25 is
# roughly a 15 degree turn; the test frames' neutral frames measured within 0.04 of rest
# and the turns' peaks 0.25…0.85 from it (median 0.47).
TURN_YAW = 0.25
FRONTAL_YAW = 0.12
REST_FRAMES = 3
# A person reacts to a new instruction after 0.2…0.5 s, so an action may run this many
# frames (0.5 s) into the next segment, and the first frames of a segment may still show
# the previous action ending.
SLACK = 5
# Less change than this over the whole sequence is a still picture, not a face.
MIN_EAR_RANGE = 0.02
MIN_YAW_RANGE = 0.03

_RIGHT_EYE = slice(36, 42)  # the person's right eye: the image's left in an unmirrored frame
_LEFT_EYE = slice(42, 48)
_NOSE_TIP = 30
_JAW_RIGHT, _JAW_LEFT = 0, 16


def _eye(points: numpy.ndarray) -> float:
    p1, p2, p3, p4, p5, p6 = points
    width = float(numpy.linalg.norm(p1 - p4))
    if width == 0:
        return 0.0
    return float(numpy.linalg.norm(p2 - p6) + numpy.linalg.norm(p3 - p5)) / (2 * width)


def eye_aspect_ratio(landmarks: numpy.ndarray) -> float:
    """The eye aspect ratio of Soukupová & Čech (2016), the mean of both eyes: eyelid
    opening over eye width, about 0.3 open and under 0.15 closed."""
    return (_eye(landmarks[_RIGHT_EYE]) + _eye(landmarks[_LEFT_EYE])) / 2


def head_yaw(landmarks: numpy.ndarray) -> float:
    """Where the nose tip lies along the jaw line from the person's right ear to their left,
    from -1 to 1, 0 when frontal: > 0 when they turn to their own left (which moves the nose
    to the image's right in an unmirrored frame). A projection, so a tilted head (roll)
    does not count as a turn."""
    right, left, nose = landmarks[_JAW_RIGHT], landmarks[_JAW_LEFT], landmarks[_NOSE_TIP]
    axis = left - right
    length = float(axis @ axis)
    if length == 0:
        return 0.0
    return 2 * float((nose - right) @ axis) / length - 1


def draw_challenge(rng: random.Random, count: int) -> list[Action]:
    """`count` random actions, never the same twice in a row (so each segment's action
    differs from its neighbours' and a late or early one is not mistaken for it)."""
    if count < 1:
        raise ValueError("a challenge has at least one action")
    actions: list[Action] = []
    for _ in range(count):
        actions.append(rng.choice([a for a in ACTIONS if not actions or a != actions[-1]]))
    return actions


def possible_challenges(count: int) -> list[tuple[Action, ...]]:
    """Every challenge of `count` actions that draw_challenge can give."""
    return [
        combo
        for combo in itertools.product(ACTIONS, repeat=count)
        if all(a != b for a, b in itertools.pairwise(combo))
    ]


@dataclass(frozen=True)
class Reading:
    """One frame's measurements: eye aspect ratio and head yaw."""

    ear: float
    yaw: float


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # "" when ok


_NAMES = {"blink": "blink", "turn_left": "turn to the left", "turn_right": "turn to the right"}


def _blinked(ears: Sequence[float], first: int, closed: float, opened: float) -> bool:
    """Open, then closed (at index `first` or later), then open again."""
    stage = 0
    for index, ear in enumerate(ears):
        if stage == 0 and ear >= opened:
            stage = 1
        elif stage == 1 and ear < closed and index >= first:
            stage = 2
        elif stage == 2 and ear >= opened:
            return True
    return False


def _turned(yaws: Sequence[float], first: int, sign: int) -> bool:
    """Near the rest pose first, then beyond TURN_YAW in the direction `sign` (at index `first`
    or later)."""
    frontal = False
    for index, yaw in enumerate(yaws):
        if abs(yaw) <= FRONTAL_YAW:
            frontal = True
        elif frontal and sign * yaw >= TURN_YAW and index >= first:
            return True
    return False


def check(
    readings: Sequence[Reading], actions: Sequence[Action], frames_per_action: int
) -> Verdict:
    """Whether the readings show `actions` in order, each in its own segment of
    `frames_per_action` frames (up to SLACK frames late)."""
    k = frames_per_action
    if k < 1 or not actions or len(readings) != len(actions) * k:
        return Verdict(False, f"Expected {len(actions) * k} frames, got {len(readings)}.")
    unknown = [a for a in actions if a not in _NAMES]
    if unknown:
        raise ValueError(f"unknown actions: {unknown}")
    ears = [r.ear for r in readings]
    rest = float(numpy.median([r.yaw for r in readings[:REST_FRAMES]]))
    yaws = [r.yaw - rest for r in readings]
    if max(ears) - min(ears) < MIN_EAR_RANGE and max(yaws) - min(yaws) < MIN_YAW_RANGE:
        return Verdict(False, "The face did not move at all: a photo is not accepted.")
    # Most frames show open eyes, so the median is the person's own open EAR.
    open_ear = float(numpy.median(ears))
    closed = CLOSED_FRACTION * open_ear
    opened = OPEN_FRACTION * open_ear
    n = len(readings)
    slack = min(SLACK, k // 2)  # short segments: the slack must not swallow a whole one
    for i, action in enumerate(actions):
        start, end = i * k, (i + 1) * k
        window = slice(start, min(n, end + slack))
        # The segment's own frames after the previous action had time to end.
        own = slice(min(start + slack, end - 1) if i else start, end)
        step = f"Step {i + 1} ({_NAMES[action]})"
        if action == "blink":
            # The open start may lie in the frames just before the segment (a quick
            # reaction); the closing must be inside it.
            before = ears[max(0, start - slack) : start]
            if not _blinked([*before, *ears[window]], len(before), closed, opened):
                return Verdict(False, f"{step}: no blink was seen in time.")
            if max(abs(y) for y in yaws[own]) >= TURN_YAW:
                return Verdict(False, f"{step}: the head turned instead.")
            continue
        sign = 1 if action == "turn_left" else -1
        # The frontal start may be just before the segment; the turn must be inside it.
        if any(-sign * y >= TURN_YAW for y in yaws[own]):
            return Verdict(False, f"{step}: the head turned the other way.")
        before = yaws[max(0, start - slack) : start]
        if not _turned([*before, *yaws[window]], len(before), sign):
            return Verdict(False, f"{step}: the head did not turn far enough in time.")
    return Verdict(True, "")
