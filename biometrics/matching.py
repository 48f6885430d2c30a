"""Face descriptors compared: Euclidean distance in dlib's 128-dimensional space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy

# dlib's model is tuned so that 0.6 separates people on LFW (99.38 %). A wrong accept lets
# someone vote in another deputy's name, a wrong reject only asks for another try, so the
# threshold is stricter. On the test photos (bench/face.py, docs/faceid.md) the 11 pairs of
# the same person measured 0.07…0.43 and the 10 pairs of different people 0.80…0.88: 0.5
# keeps every same-person pair with room for a worse camera while shrinking dlib's margin
# for look-alikes.
THRESHOLD: float = 0.5

Vector = Sequence[float] | numpy.ndarray


def distance(a: Vector, b: Vector) -> float:
    """Euclidean distance between two descriptors."""
    x = numpy.asarray(a, dtype=numpy.float64)
    y = numpy.asarray(b, dtype=numpy.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"descriptors of different shapes: {x.shape} and {y.shape}")
    return float(numpy.linalg.norm(x - y))


def closest(samples: Sequence[Vector], probe: Vector) -> float:
    """The smallest distance from `probe` to any enrolled sample."""
    if len(samples) == 0:
        raise ValueError("no enrolled samples to compare with")
    return min(distance(s, probe) for s in samples)


def outlier(samples: Sequence[Vector], threshold: float = THRESHOLD) -> int | None:
    """The index of the first enrolment sample that is farther than `threshold` from every
    other sample (a photo of someone else among the deputy's), or None. One sample: None."""
    for i, s in enumerate(samples):
        others = [t for j, t in enumerate(samples) if j != i]
        if others and closest(others, s) > threshold:
            return i
    return None
