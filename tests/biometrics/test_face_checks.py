"""biometrics.checks on real-photo frames: enrolment, one-frame matches and challenges."""

from __future__ import annotations

import functools
import io
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy
import pytest
from PIL import Image

from biometrics.checks import FaceCheck, FaceError, Sample, challenge, enrol, match
from biometrics.liveness import Action
from tests.faces import challenge_frames, frontal_frame, jpeg, photo

ASKED: list[Action] = ["blink", "turn_left", "turn_right"]
K = 10


@functools.cache
def obama() -> list[list[float]]:
    return [s.descriptor for s in enrol([photo("obama.jpg"), photo("obama2.jpg")])]


@functools.cache
def frames(actions: tuple[str, ...], name: str = "obama.jpg") -> list[bytes]:
    return [jpeg(f) for f in challenge_frames(actions, K, name)]


def test_enrol() -> None:
    samples = enrol([photo("obama.jpg"), photo("obama3.jpg")])
    assert [(s.width, s.height) for s in samples] == [(910, 1137), (787, 1280)]
    for s in samples:
        assert len(s.descriptor) == 128 and all(type(v) is float for v in s.descriptor)
        left, top, right, bottom = s.box
        assert 0 <= left < right <= s.width and 0 <= top < bottom <= s.height
    assert pickle.loads(pickle.dumps(samples)) == samples
    assert isinstance(samples[0], Sample)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"not an image", "bad_image"),
        ("truncated", "bad_image"),
        ("blank", "no_face"),
        ("two_people.jpg", "several_faces"),
    ],
)
def test_enrol_names_the_first_bad_photo(bad: bytes | str, code: str) -> None:
    if bad == "truncated":
        bad = photo("obama2.jpg")[:5000]
    elif bad == "blank":
        bad = jpeg(numpy.full((480, 640, 3), 200, dtype=numpy.uint8))
    elif isinstance(bad, str):
        bad = photo(bad)
    with pytest.raises(FaceError) as e:
        enrol([photo("obama.jpg"), bad, b"also bad"])
    assert (e.value.code, e.value.index) == (code, 1)
    assert e.value.message
    again = pickle.loads(pickle.dumps(e.value))  # crosses the process pool intact
    assert (again.code, again.message, again.index) == (code, e.value.message, 1)


def test_enrol_too_large() -> None:
    out = io.BytesIO()
    Image.new("RGB", (6000, 5000)).save(out, "PNG")
    with pytest.raises(FaceError) as e:
        enrol([out.getvalue()])
    assert (e.value.code, e.value.index) == ("image_too_large", 0)


def test_match() -> None:
    same = match(jpeg(frontal_frame("obama3.jpg")), obama())
    assert same.ok and same.code == "" and same.distance is not None and same.distance < 0.5
    other = match(jpeg(frontal_frame("biden.jpg")), obama())
    assert (other.ok, other.code, other.frame) == (False, "face_mismatch", 0)
    assert other.distance is not None and other.distance > 0.7
    assert match(jpeg(frontal_frame("biden.jpg")), obama(), threshold=0.9).ok


def test_match_errors() -> None:
    assert match(b"", obama()).code == "bad_image"
    blank = jpeg(numpy.zeros((480, 640, 3), dtype=numpy.uint8))
    assert match(blank, obama()) == FaceCheck(
        False, "no_face", match(blank, obama()).message, None, 0
    )
    assert match(photo("two_people.jpg"), obama()).code == "several_faces"


def test_challenge_in_the_asked_order_passes() -> None:
    result = challenge(frames(tuple(ASKED)), ASKED, K, obama())
    assert result.ok, result
    assert result.distance is not None and result.distance < 0.5


@pytest.mark.parametrize(
    "done",
    [
        ("blink", "turn_right", "turn_left"),
        ("turn_left", "blink", "turn_right"),
        ("turn_right", "turn_left", "blink"),
    ],
)
def test_challenge_in_another_order_fails(done: tuple[str, ...]) -> None:
    result = challenge(frames(done), ASKED, K, obama())
    assert (result.ok, result.code) == (False, "liveness_failed"), result
    assert result.message.startswith("Step ")


def test_one_action_for_a_ballot() -> None:
    for action in ("blink", "turn_left", "turn_right"):
        one = [jpeg(f) for f in challenge_frames([action], K)]
        for asked in ("blink", "turn_left", "turn_right"):
            result = challenge(one, [asked], K, obama())
            assert result.ok == (asked == action), (action, asked, result)


def test_the_same_frame_repeated_fails() -> None:
    still = jpeg(frontal_frame())
    result = challenge([still] * 30, ASKED, K, obama())
    assert (result.ok, result.code) == (False, "liveness_failed")


def test_a_still_photo_with_fresh_noise_fails() -> None:
    # Not byte-identical (a photo held up to the camera): landmarks barely move.
    rng = numpy.random.default_rng(5)
    base = frontal_frame().astype(numpy.float64)
    noisy = [
        jpeg(numpy.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(numpy.uint8))
        for _ in range(30)
    ]
    result = challenge(noisy, ASKED, K, obama())
    assert (result.ok, result.code) == (False, "liveness_failed")


def test_another_persons_challenge_is_a_mismatch() -> None:
    result = challenge(frames(tuple(ASKED), "biden.jpg"), ASKED, K, obama())
    assert (result.ok, result.code) == (False, "face_mismatch")
    assert result.distance is not None and result.distance > 0.5 and result.frame is not None


def test_a_second_face_in_one_frame() -> None:
    sequence = list(frames(tuple(ASKED)))
    sequence[13] = jpeg(
        numpy.asarray(Image.open(io.BytesIO(photo("two_people.jpg"))).resize((640, 376)))
    )
    result = challenge(sequence, ASKED, K, obama())
    assert (result.ok, result.code, result.frame) == (False, "several_faces", 13)


def test_a_blank_frame() -> None:
    sequence = list(frames(tuple(ASKED)))
    sequence[4] = jpeg(numpy.full((480, 640, 3), 30, dtype=numpy.uint8))
    result = challenge(sequence, ASKED, K, obama())
    assert (result.ok, result.code, result.frame) == (False, "no_face", 4)


def test_a_broken_frame() -> None:
    sequence = list(frames(tuple(ASKED)))
    sequence[7] = sequence[7][:100]
    result = challenge(sequence, ASKED, K, obama())
    assert (result.ok, result.code, result.frame) == (False, "bad_image", 7)


def test_wrong_frame_count() -> None:
    result = challenge(frames(tuple(ASKED))[:-1], ASKED, K, obama())
    assert (result.ok, result.code, result.frame) == (False, "bad_frames", None)


def test_results_are_picklable() -> None:
    result = challenge(frames(tuple(ASKED)), ASKED, K, obama())
    assert pickle.loads(pickle.dumps(result)) == result


def test_in_a_spawned_pool_worker() -> None:
    # As the server runs them: a fresh interpreter, arguments and results pickled.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        samples = pool.submit(enrol, [photo("obama.jpg")]).result(timeout=120)
        result = pool.submit(challenge, frames(tuple(ASKED)), ASKED, K, [samples[0].descriptor])
        assert result.result(timeout=120).ok
        with pytest.raises(FaceError) as e:
            pool.submit(enrol, [photo("obama.jpg"), b"x"]).result(timeout=120)
        assert (e.value.code, e.value.index) == ("bad_image", 1)


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        challenge(frames(tuple(ASKED)), ["nod"], 30, obama())  # type: ignore[list-item]
