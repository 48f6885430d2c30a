"""tests/faces.py: the frames it makes are what the other tests rely on."""

from __future__ import annotations

from pathlib import Path

import numpy

from biometrics.faces import models
from biometrics.liveness import eye_aspect_ratio, head_yaw
from tests.faces import challenge_frames, frontal_frame, jpeg, write_y4m


def test_frontal_frame() -> None:
    frame = frontal_frame()
    assert frame.shape == (480, 640, 3) and frame.dtype == numpy.uint8
    (box,) = models().find(frame)
    left, _, right, _ = box
    assert 200 < right - left < 320 and abs((left + right) / 2 - 320) < 40
    assert frontal_frame("biden.jpg", (320, 240)).shape == (240, 320, 3)


def test_challenge_frames_show_the_actions() -> None:
    frames = challenge_frames(["blink", "turn_left", "turn_right"], 10)
    assert len(frames) == 30
    readings = []
    for frame in frames:
        (box,) = models().find(frame)
        marks = models().landmarks(frame, box)
        readings.append((eye_aspect_ratio(marks), head_yaw(marks)))
    ears = [e for e, _ in readings]
    yaws = [y for _, y in readings]
    assert min(ears[:10]) < 0.7 * numpy.median(ears)  # a blink in the first segment
    assert max(yaws[10:20]) > 0.3 and min(yaws[20:30]) < -0.3
    assert max(abs(y) for y in yaws[:10]) < 0.1
    assert len({f.tobytes() for f in frames}) == 30  # noise: no two alike


def test_jpeg_and_y4m(tmp_path: Path) -> None:
    frames = [frontal_frame(), numpy.zeros((480, 640, 3), dtype=numpy.uint8)]
    assert jpeg(frames[0]).startswith(b"\xff\xd8")
    path = tmp_path / "camera.y4m"
    write_y4m(path, frames, fps=10)
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420"
    size = 640 * 480 * 3 // 2
    assert len(rest) == 2 * (len(b"FRAME\n") + size)
    second = rest[len(b"FRAME\n") + size :]
    assert second.startswith(b"FRAME\n")
    assert set(second[6 : 6 + 640 * 480]) == {16}  # black is studio-range 16
