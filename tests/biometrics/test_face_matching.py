"""biometrics.matching: on the test photos every same-person pair is within THRESHOLD and
every pair of different people beyond it."""

from __future__ import annotations

import itertools

import numpy
import pytest

from biometrics.checks import enrol
from biometrics.matching import THRESHOLD, closest, distance, outlier
from tests.faces import frontal_frame, jpeg, photo

OBAMA = ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"]


def descriptors() -> dict[str, list[float]]:
    found = {name: enrol([photo(name)])[0].descriptor for name in [*OBAMA, "biden.jpg"]}
    found["obama frame"] = enrol([jpeg(frontal_frame("obama.jpg"))])[0].descriptor
    return found


def test_distance_and_closest() -> None:
    assert distance([0, 0], [3, 4]) == 5
    assert distance(numpy.zeros(3), numpy.zeros(3)) == 0
    assert closest([[0, 0], [1, 1], [3, 4]], [1, 2]) == 1
    with pytest.raises(ValueError):
        distance([0, 0], [0, 0, 0])
    with pytest.raises(ValueError):
        closest([], [0, 0])


def test_threshold_is_stricter_than_dlibs() -> None:
    assert 0.4 <= THRESHOLD < 0.6


def test_no_false_reject_and_no_false_accept() -> None:
    found = descriptors()
    same = [n for n in found if n != "biden.jpg"]
    for a, b in itertools.combinations(same, 2):
        assert distance(found[a], found[b]) <= THRESHOLD, (a, b)
    for name in same:
        assert distance(found[name], found["biden.jpg"]) > THRESHOLD, name


def test_outlier_names_the_other_person() -> None:
    found = descriptors()
    samples = [found["obama.jpg"], found["obama2.jpg"], found["biden.jpg"], found["obama3.jpg"]]
    assert outlier(samples) == 2
    assert outlier([found["obama.jpg"], found["obama2.jpg"]]) is None
    assert outlier([found["biden.jpg"]]) is None
