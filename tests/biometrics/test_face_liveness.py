"""biometrics.liveness on synthetic landmarks and readings: each action in its own segment,
in the asked order; still pictures and contrary turns fail."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import numpy
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from biometrics.liveness import (
    ACTIONS,
    Action,
    Reading,
    check,
    draw_challenge,
    eye_aspect_ratio,
    head_yaw,
)

OPEN, CLOSED, TURN = 0.3, 0.1, 0.45


def face(ear: float, yaw: float, roll: float = 0.0, scale: float = 1.0) -> numpy.ndarray:
    """68 iBUG landmarks of a schematic face with this EAR and head_yaw."""
    marks = numpy.zeros((68, 2))
    for i in range(17):  # the jaw from the person's right ear (0) to their left (16)
        angle = numpy.pi * i / 16
        marks[i] = (-100 * numpy.cos(angle), 100 * numpy.sin(angle))
    marks[30] = (yaw * 100, 20)  # the nose tip along the jaw line
    for first, cx in ((36, -45), (42, 45)):
        half = 15.0
        opening = ear * 2 * half  # EAR = opening / width
        marks[first : first + 6] = [
            (cx - half, 0),
            (cx - 5, -opening / 2),
            (cx + 5, -opening / 2),
            (cx + half, 0),
            (cx + 5, opening / 2),
            (cx - 5, opening / 2),
        ]
    c, s = numpy.cos(roll), numpy.sin(roll)
    return numpy.asarray(scale * marks @ numpy.array([[c, s], [-s, c]]) + 300)


def test_eye_aspect_ratio() -> None:
    assert eye_aspect_ratio(face(0.3, 0)) == pytest.approx(0.3)
    assert eye_aspect_ratio(face(0.1, 0, roll=0.3, scale=2)) == pytest.approx(0.1)


def test_head_yaw_sign_and_invariance() -> None:
    assert head_yaw(face(0.3, 0)) == pytest.approx(0)
    # The nose towards the image's right (the person's own left, unmirrored): positive.
    assert head_yaw(face(0.3, 0.4)) == pytest.approx(0.4)
    assert head_yaw(face(0.3, -0.4, roll=0.4, scale=0.5)) == pytest.approx(-0.4)


def test_draw_challenge() -> None:
    rng = random.Random(1)
    for count in (1, 2, 3, 5):
        for _ in range(50):
            actions = draw_challenge(rng, count)
            assert len(actions) == count and set(actions) <= set(ACTIONS)
            assert all(a != b for a, b in itertools.pairwise(actions))
    assert len({tuple(draw_challenge(rng, 3)) for _ in range(200)}) == 12  # all 3*2*2
    with pytest.raises(ValueError):
        draw_challenge(rng, 0)


def performed(
    actions: Sequence[str], k: int, delay: int = 0, noise: float = 0.01, seed: int = 0
) -> list[Reading]:
    """Readings of a person doing `actions`, each starting `delay` frames after the first
    fifth of its segment: a blink of 3 frames, a turn held for 4."""
    rng = random.Random(seed)
    # A few more frames, cut off at the end: a late last action is cut short.
    out = [(OPEN, 0.0) for _ in range(len(actions) * k + k)]
    for i, action in enumerate(actions):
        begin = i * k + k // 5 + delay
        if action == "blink":
            for j, ear in enumerate((0.18, CLOSED, 0.18)):
                out[begin + j] = (ear, 0.0)
        else:
            sign = 1 if action == "turn_left" else -1
            for j, amount in enumerate((0.4, 1, 1, 1, 1, 0.4)):
                out[begin + j] = (OPEN, sign * TURN * amount)
    return [
        Reading(e + rng.uniform(-noise, noise), y + rng.uniform(-noise, noise))
        for e, y in out[: len(actions) * k]
    ]


CHALLENGE: list[Action] = ["blink", "turn_left", "turn_right"]


def test_the_asked_actions_pass() -> None:
    for delay in (0, 2, 4):
        assert check(performed(CHALLENGE, 10, delay), CHALLENGE, 10).ok


def test_each_action_alone() -> None:
    for action in ACTIONS:
        for other in ACTIONS:
            verdict = check(performed([action], 10), [other], 10)
            assert verdict.ok == (action == other), (action, other, verdict)


def test_wrong_order_fails_naming_the_step() -> None:
    verdict = check(performed(["blink", "turn_right", "turn_left"], 10), CHALLENGE, 10)
    assert not verdict.ok
    assert verdict.reason.startswith("Step 2 (turn to the left)")


def test_contrary_turn_fails() -> None:
    readings = performed(["turn_left"], 10)
    readings[8] = Reading(OPEN, -TURN)  # a swing the other way inside the segment
    verdict = check(readings, ["turn_left"], 10)
    assert not verdict.ok and "other way" in verdict.reason


def test_too_late_fails() -> None:
    # Started 8 frames into a 10-frame segment: past the slack of the next one.
    readings = [Reading(OPEN, 0.0)] * 10 + performed(["turn_left"], 10, delay=7)
    assert not check(readings, ["blink", "turn_left"], 10).ok


def test_a_turn_from_a_turned_start_is_measured_from_rest() -> None:
    # The camera beside the screen: the face rests at yaw 0.3.
    readings = [Reading(r.ear, r.yaw + 0.3) for r in performed(CHALLENGE, 10)]
    assert check(readings, CHALLENGE, 10).ok


def test_an_early_action_fails() -> None:
    readings = performed(["turn_left", "blink"], 10)
    assert not check(readings, ["blink", "turn_left"], 10).ok


def test_wrong_frame_count() -> None:
    verdict = check(performed(CHALLENGE, 10)[:-1], CHALLENGE, 10)
    assert not verdict.ok and "frames" in verdict.reason


def test_a_still_sequence_is_a_photo() -> None:
    verdict = check([Reading(0.3, 0.02)] * 30, CHALLENGE, 10)
    assert not verdict.ok and "photo" in verdict.reason


challenges = st.integers(1, 4).flatmap(
    lambda n: st.integers(0, 10**6).map(lambda seed: draw_challenge(random.Random(seed), n))
)


@settings(max_examples=200, deadline=None)
@given(
    actions=challenges,
    k=st.integers(1, 20),
    ear=st.floats(0, 1),
    yaw=st.floats(-1, 1),
)
def test_a_constant_sequence_never_passes(
    actions: list[Action], k: int, ear: float, yaw: float
) -> None:
    assert not check([Reading(ear, yaw)] * (len(actions) * k), actions, k).ok


@settings(max_examples=300, deadline=None)
@given(
    actions=challenges,
    k=st.integers(10, 20),
    delay=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_the_asked_order_passes(actions: list[Action], k: int, delay: int, seed: int) -> None:
    assert check(performed(actions, k, delay, seed=seed), actions, k).ok


@settings(max_examples=300, deadline=None)
@given(
    asked=challenges,
    done=st.integers(0, 10**6),
    k=st.integers(10, 20),
    delay=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_another_order_fails(asked: list[Action], done: int, k: int, delay: int, seed: int) -> None:
    other = draw_challenge(random.Random(done), len(asked))
    assume(other != asked)
    assert not check(performed(other, k, delay, seed=seed), asked, k).ok


@settings(max_examples=200, deadline=None)
@given(
    actions=challenges,
    k=st.integers(10, 20),
    at=st.integers(0, 100),
    seed=st.integers(0, 1000),
)
def test_a_contrary_turn_always_fails(actions: list[Action], k: int, at: int, seed: int) -> None:
    turns = [i for i, a in enumerate(actions) if a != "blink"]
    assume(turns)
    i = turns[at % len(turns)]
    readings = performed(actions, k, seed=seed)
    sign = 1 if actions[i] == "turn_left" else -1
    # Late in the segment, after any spill-over of the previous action.
    readings[i * k + k - 1] = Reading(OPEN, -sign * TURN)
    assert not check(readings, actions, k).ok
