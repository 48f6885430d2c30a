"""biometrics.faces on the test photos: faces found, landmarks and descriptors shaped."""

from __future__ import annotations

import pickle

import face_recognition_models
import numpy
import pytest

from biometrics.faces import FaceModels, models
from biometrics.images import decode
from tests.faces import frontal_frame, photo


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("obama.jpg", 1),
        ("obama2.jpg", 1),
        ("obama3.jpg", 1),
        ("obama_partial_face.jpg", 1),
        ("biden.jpg", 1),
        ("two_people.jpg", 2),
    ],
)
def test_faces_found(name: str, count: int) -> None:
    assert len(models().find(decode(photo(name)))) == count


def test_no_face_in_a_blank_frame() -> None:
    assert models().find(numpy.full((480, 640, 3), 128, dtype=numpy.uint8)) == []


def test_landmarks_and_descriptor() -> None:
    frame = frontal_frame()
    (box,) = models().find(frame)
    marks = models().landmarks(frame, box)
    assert marks.shape == (68, 2)
    left, top, right, bottom = box
    # The nose tip (30) inside the face box.
    assert left < marks[30, 0] < right and top < marks[30, 1] < bottom
    descriptor = models().descriptor(frame, box)
    assert descriptor.shape == (128,)
    assert 0.5 < float(numpy.linalg.norm(descriptor)) < 1.5


def test_the_68_point_file_can_be_replaced(tmp_path: object) -> None:
    default = face_recognition_models.pose_predictor_model_location()
    assert FaceModels().landmarks68_path == default
    other = FaceModels(landmarks68_path="/nonexistent/shape_predictor_68.dat")
    frame = frontal_frame()
    (box,) = other.find(frame)  # detection and descriptors do not need the 68-point file
    assert other.descriptor(frame, box).shape == (128,)
    with pytest.raises(RuntimeError):
        other.landmarks(frame, box)


def test_models_is_one_per_process() -> None:
    assert models() is models()


def test_boxes_are_plain_ints() -> None:
    boxes = models().find(frontal_frame())
    assert all(type(v) is int for box in boxes for v in box)
    assert pickle.loads(pickle.dumps(boxes)) == boxes


def test_warm_loads_every_model() -> None:
    FaceModels().warm()
    with pytest.raises(RuntimeError):
        FaceModels(landmarks68_path="/nonexistent/shape_predictor_68.dat").warm()


def test_configure_replaces_the_process_models() -> None:
    from biometrics import faces

    before = faces.models()
    try:
        replaced = faces.configure(None)
        assert faces.models() is replaced and replaced is not before
    finally:
        faces._models = before
