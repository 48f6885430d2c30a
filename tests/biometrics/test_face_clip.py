"""Real moving faces: the test clip (a 9 s camera-like video, decoded with PyAV). Its
first speaker, enrolled from three of its frames, matches in the others and the second
speaker does not; and the recording, replayed as the answer to a challenge, fails every
challenge there is: people moving naturally do not do the asked actions in their
segments."""

from __future__ import annotations

import io
from functools import cache

import pytest

from biometrics import checks
from biometrics.liveness import possible_challenges
from tests.conftest import SHARED, skip_or_fail

CLIP = SHARED / "media" / "short_hamilton_clip.mp4"
# Every third frame of 29.97 per second: the 10 a second the pages capture. The first
# speaker is on screen from frame 84 to 210 (frames 114 and 117 show no face: he turns
# away), the second from 219 to 246.
FIRST, SECOND = range(120, 210, 3), range(219, 247, 3)


@cache
def clip_frames() -> dict[int, bytes]:
    """JPEG bytes of every third frame of the clip, by frame number."""
    if not CLIP.is_file():
        skip_or_fail(f"test clip {CLIP} is missing")
    av = pytest.importorskip("av")
    frames: dict[int, bytes] = {}
    with av.open(str(CLIP)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n % 3 == 0:
                out = io.BytesIO()
                frame.to_image().save(out, "JPEG", quality=85)
                frames[n] = out.getvalue()
    return frames


@cache
def first_speaker() -> list[list[float]]:
    frames = clip_frames()
    return [s.descriptor for s in checks.enrol([frames[84], frames[150], frames[198]])]


def test_the_speaker_matches_in_other_frames_and_the_next_speaker_does_not() -> None:
    frames, samples = clip_frames(), first_speaker()
    for n in (123, 177, 207):
        found = checks.match(frames[n], samples)
        assert found.ok and found.distance is not None and found.distance <= 0.5, (n, found)
    for n in SECOND[::3]:
        other = checks.match(frames[n], samples)
        assert other.code == "face_mismatch", (n, other)
        assert other.distance is not None and other.distance > 0.6


def test_a_replayed_recording_fails_every_challenge() -> None:
    frames, samples = clip_frames(), first_speaker()
    recording = [frames[n] for n in FIRST]  # 30 frames: 3 s at 10 per second
    orders = [combo for count in (1, 2, 3) for combo in possible_challenges(count)]
    assert len(orders) == 3 + 6 + 12
    for actions in orders:
        k = len(recording) // len(actions)
        verdict = checks.challenge(recording[: k * len(actions)], actions, k, samples)
        # The face is the enrolled one: only the liveness check refuses it.
        assert verdict.code == "liveness_failed", (actions, verdict)


def test_a_frame_where_the_speaker_looks_away_has_no_face() -> None:
    frames, samples = clip_frames(), first_speaker()
    assert checks.match(frames[114], samples).code == "no_face"
