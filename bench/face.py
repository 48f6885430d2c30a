"""Face ID speed and accuracy on one core, on the test photos.

    .venv/bin/python bench/face.py [--repeats 30] [--challenges 10]

Measures, with the process pinned to one CPU core:

  (a) one 640x480 camera frame: face detection, 68 landmarks and the descriptor, p50 / p95
      each and of their total (target total p50 <= 150 ms);
  (b) a 3-action challenge of 30 JPEG frames (3 s at 10 fps) verified after its last frame
      by `biometrics.checks.challenge`, p50 / p95 (target p50 <= 1.5 s);
  (c) the distance between every pair of faces in the test photos, with the false accepts
      and false rejects at `biometrics.matching.THRESHOLD`;
  (d) the eye aspect ratio and head yaw on neutral, closed-eye and turned frames made by
      tests/faces.py from the test photos (and on the frames of the test clip when the
      ffmpeg command is installed), next to the liveness thresholds.

Writes everything to bench/results/face-<timestamp>.json as well. `frame_timings` and
`challenge_timing` are importable for benchmarks that fan the work out."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from biometrics import liveness  # noqa: E402
from biometrics.checks import challenge, enrol  # noqa: E402
from biometrics.faces import models  # noqa: E402
from biometrics.images import decode  # noqa: E402
from biometrics.liveness import Action  # noqa: E402
from biometrics.matching import THRESHOLD, distance  # noqa: E402
from tests.conftest import SHARED  # noqa: E402
from tests.faces import challenge_frames, challenge_poses, frontal_frame, jpeg, photo  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Who is in each test photo; two_people.jpg's faces from left to right.
PEOPLE = {
    "obama.jpg": ["Obama"],
    "obama2.jpg": ["Obama"],
    "obama3.jpg": ["Obama"],
    "obama_partial_face.jpg": ["Obama"],
    "biden.jpg": ["Biden"],
    "two_people.jpg": ["Obama", "Biden"],
}
ASKED: list[Action] = ["blink", "turn_left", "turn_right"]


def pin_to_one_core() -> int:
    """Run on one CPU from now on (dlib would otherwise be free to use more); its number."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2)}


def frame_timings(frame: numpy.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Detection, landmarks and descriptor of one frame, ms, p50/p95 of `repeats` runs."""
    faces = models()
    (box,) = faces.find(frame)
    faces.landmarks(frame, box)
    faces.descriptor(frame, box)  # models loaded before timing
    times: dict[str, list[float]] = {"detect": [], "landmarks": [], "descriptor": [], "total": []}
    for _ in range(repeats):
        parts = [
            _ms(lambda: faces.find(frame)),
            _ms(lambda: faces.landmarks(frame, box)),
            _ms(lambda: faces.descriptor(frame, box)),
        ]
        for name, value in zip(("detect", "landmarks", "descriptor"), parts, strict=True):
            times[name].append(value)
        times["total"].append(sum(parts))
    return {name: summary(values) for name, values in times.items()}


def challenge_timing(
    frames: Sequence[bytes],
    actions: Sequence[Action],
    frames_per_action: int,
    samples: Sequence[Sequence[float]],
    repeats: int,
) -> dict[str, float]:
    """`checks.challenge` on the same frames `repeats` times, ms p50/p95; it must pass."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = challenge(frames, actions, frames_per_action, samples)
        times.append((time.perf_counter() - start) * 1000)
        if not result.ok:
            raise RuntimeError(f"the benchmark challenge failed: {result}")
    return summary(times)


def pair_distances() -> dict[str, Any]:
    """Every pair of faces in the test photos, with the error counts at THRESHOLD."""
    faces = models()
    found: list[tuple[str, str, numpy.ndarray]] = []
    for name, people in PEOPLE.items():
        image = decode(photo(name))
        boxes = sorted(faces.find(image))
        if len(boxes) != len(people):
            raise RuntimeError(f"{name}: {len(boxes)} faces, expected {len(people)}")
        for i, (box, person) in enumerate(zip(boxes, people, strict=True)):
            label = name if len(people) == 1 else f"{name}#{i}"
            found.append((label, person, faces.descriptor(image, box)))
    pairs: list[dict[str, Any]] = []
    for (a, pa, da), (b, pb, db) in itertools.combinations(found, 2):
        pairs.append({"a": a, "b": b, "same": pa == pb, "distance": round(distance(da, db), 4)})
    same: list[float] = [p["distance"] for p in pairs if p["same"]]
    other: list[float] = [p["distance"] for p in pairs if not p["same"]]
    return {
        "threshold": THRESHOLD,
        "pairs": pairs,
        "same_person": {"count": len(same), "min": min(same), "max": max(same)},
        "other_person": {"count": len(other), "min": min(other), "max": max(other)},
        "false_rejects": sum(d > THRESHOLD for d in same),
        "false_accepts": sum(d <= THRESHOLD for d in other),
    }


def _readings(frames: Sequence[numpy.ndarray]) -> list[tuple[float, float]]:
    faces = models()
    out = []
    for frame in frames:
        boxes = faces.find(frame)
        if len(boxes) != 1:
            out.append((float("nan"), float("nan")))
            continue
        marks = faces.landmarks(frame, boxes[0])
        out.append((liveness.eye_aspect_ratio(marks), liveness.head_yaw(marks)))
    return out


def _spread(values: Sequence[float]) -> dict[str, float]:
    clean = [v for v in values if v == v]
    if not clean:
        return {"count": 0}
    return {
        "count": len(clean),
        "min": round(min(clean), 3),
        "p50": round(percentile(clean, 0.5), 3),
        "max": round(max(clean), 3),
    }


def liveness_distributions() -> dict[str, Any]:
    """EAR (also relative to the sequence's median) and yaw (relative to the first frames,
    as liveness.check measures it) on neutral, closed-eye and turned frames."""
    k = 10
    poses = challenge_poses(ASKED, k)
    groups: dict[str, list[float]] = {
        key: [] for key in ("ear_open", "ear_closed", "ear_open_rel", "ear_closed_rel", "yaw_rest")
    }
    groups |= {"yaw_neutral_rel": [], "yaw_turned_rel": []}
    per_photo = {}
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        readings = _readings(challenge_frames(ASKED, k, name))
        ears = [e for e, _ in readings]
        open_ear = float(numpy.nanmedian(ears))
        rest = float(numpy.nanmedian([y for _, y in readings[: liveness.REST_FRAMES]]))
        groups["yaw_rest"].append(rest)
        passed = liveness.check([liveness.Reading(e, y) for e, y in readings], ASKED, k)
        per_photo[name] = {
            "deepest_blink_rel": round(min(ears[:k]) / open_ear, 3),
            "turn_left_peak": round(max(y for _, y in readings[k : 2 * k]) - rest, 3),
            "turn_right_peak": round(min(y for _, y in readings[2 * k :]) - rest, 3),
            "open_ear": round(open_ear, 3),
            "rest_yaw": round(rest, 3),
            "passes": passed.ok,
            "reason": passed.reason,
        }
        for (ear, yaw), (closed, turn) in zip(readings, poses, strict=True):
            if closed == 0 and turn == 0:
                groups["ear_open"].append(ear)
                groups["ear_open_rel"].append(ear / open_ear)
                groups["yaw_neutral_rel"].append(yaw - rest)
            elif closed >= 0.7:  # the deepest two or three frames of each blink
                groups["ear_closed"].append(ear)
                groups["ear_closed_rel"].append(ear / open_ear)
            elif abs(turn) == 1:
                groups["yaw_turned_rel"].append((yaw - rest) * turn)
    return {
        "thresholds": {
            "closed_fraction": liveness.CLOSED_FRACTION,
            "open_fraction": liveness.OPEN_FRACTION,
            "turn_yaw": liveness.TURN_YAW,
            "frontal_yaw": liveness.FRONTAL_YAW,
            "slack_frames": liveness.SLACK,
        },
        "synthetic": {key: _spread(values) for key, values in groups.items()},
        "per_photo": per_photo,
        "clip": clip_distributions(),
    }


def clip_distributions(seconds: float = 9.0) -> dict[str, Any]:
    """EAR and yaw of every face-bearing frame of the test clip at 10 fps (needs ffmpeg)."""
    clip = SHARED / "media" / "short_hamilton_clip.mp4"
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not clip.is_file():
        return {"skipped": "no ffmpeg command" if ffmpeg is None else f"{clip} is missing"}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                ffmpeg,
                "-loglevel",
                "error",
                "-i",
                str(clip),
                "-t",
                str(seconds),
                "-vf",
                "fps=10",
                f"{tmp}/%04d.png",
            ],
            check=True,
        )
        frames = [decode(p.read_bytes()) for p in sorted(Path(tmp).glob("*.png"))]
    readings = [r for r in _readings(frames) if r[0] == r[0]]
    return {
        "frames": len(frames),
        "with_one_face": len(readings),
        "ear": _spread([e for e, _ in readings]),
        "yaw": _spread([y for _, y in readings]),
    }


def main(args: argparse.Namespace) -> int:
    core = pin_to_one_core()
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame = frontal_frame()
    single = frame_timings(frame, args.repeats)
    print(f"(a) one 640x480 frame on core {core}, ms over {args.repeats} runs:")
    for name, timing in single.items():
        print(f"    {name:<11} p50 {timing['p50']:7.1f}   p95 {timing['p95']:7.1f}")
    samples = [s.descriptor for s in enrol([photo("obama.jpg"), photo("obama2.jpg")])]
    frames = [jpeg(f) for f in challenge_frames(ASKED, 10)]
    whole = challenge_timing(frames, ASKED, 10, samples, args.challenges)
    print(
        f"(b) challenge of {len(frames)} frames ({' '.join(ASKED)}), ms over "
        f"{args.challenges} runs: p50 {whole['p50']:.0f}   p95 {whole['p95']:.0f}"
    )
    pairs = pair_distances()
    print(f"(c) face pairs of the test photos at THRESHOLD {THRESHOLD}:")
    for p in pairs["pairs"]:
        print(
            f"    {p['a']:<24} {p['b']:<24} {'same ' if p['same'] else 'other'} {p['distance']:.3f}"
        )
    print(f"    same person {pairs['same_person']}   other person {pairs['other_person']}")
    print(f"    false rejects {pairs['false_rejects']}   false accepts {pairs['false_accepts']}")
    live = liveness_distributions()
    print(f"(d) liveness readings (thresholds {live['thresholds']}):")
    for key, spread in live["synthetic"].items():
        print(f"    {key:<16} {spread}")
    for name, verdict in live["per_photo"].items():
        print(f"    {name:<16} {verdict}")
    print(f"    clip: {live['clip']}")
    out = RESULTS / f"face-{time.strftime('%Y%m%d-%H%M%S')}.json"
    figures: dict[str, Any] = {
        "core": core,
        "frame_ms": single,
        "challenge_ms": whole,
        "pairs": pairs,
        "liveness": live,
    }
    out.write_text(json.dumps({"command": " ".join(sys.argv), **figures}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=30, help="runs of the one-frame timing")
    parser.add_argument("--challenges", type=int, default=10, help="runs of the challenge")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse()))
