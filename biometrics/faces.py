"""dlib's face detector, landmarks and descriptors: the only module that imports dlib.

The 5-point shape model (free to use) aligns faces for the descriptor. The 68-point model
is trained on iBUG 300-W, whose licence excludes commercial use, so it is used only for the
liveness landmarks (eyes, nose, jaw) and is loaded from a path that a setting can replace.
"""

from __future__ import annotations

import threading
from typing import Any

import dlib
import face_recognition_models
import numpy
from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels; may reach past the edge


def _rgb(image: numpy.ndarray) -> numpy.ndarray:
    # dlib accepts only C-contiguous uint8 arrays (H, W, 3) or (H, W).
    if image.dtype != numpy.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")
    return numpy.ascontiguousarray(image)


def _rectangle(box: Box) -> Any:
    left, top, right, bottom = box
    return dlib.rectangle(int(left), int(top), int(right), int(bottom))


class FaceModels:
    """The detector and the three trained models, each loaded at its first use."""

    def __init__(self, landmarks68_path: str | None = None) -> None:
        self.landmarks68_path = (
            landmarks68_path or face_recognition_models.pose_predictor_model_location()
        )
        self._lock = threading.Lock()
        self._detector: Any = None
        self._shape5: Any = None
        self._shape68: Any = None
        self._encoder: Any = None

    def _load(self, name: str) -> Any:
        with self._lock:
            if getattr(self, name) is None:
                if name == "_detector":
                    value = dlib.get_frontal_face_detector()
                elif name == "_shape5":
                    path = face_recognition_models.pose_predictor_five_point_model_location()
                    value = dlib.shape_predictor(path)
                elif name == "_shape68":
                    value = dlib.shape_predictor(self.landmarks68_path)
                else:
                    path = face_recognition_models.face_recognition_model_location()
                    value = dlib.face_recognition_model_v1(path)
                setattr(self, name, value)
            return getattr(self, name)

    def warm(self) -> None:
        """Load every model now (a pool worker's start) rather than on its first request;
        a missing or unreadable file fails here."""
        for name in ("_detector", "_shape5", "_shape68", "_encoder"):
            self._load(name)

    def find(self, image: numpy.ndarray, *, scale: float = 1.0) -> list[Box]:
        """Every face HOG finds, without upsampling: a camera frame's face is far larger than
        the detector's 80-pixel minimum, and upsampling costs four times as much.

        With `scale` < 1 the search runs on the image shrunk by that factor (a quarter of
        the work at 0.5), finding only faces wider than 80 / scale pixels; the boxes are
        given in the full image's pixels."""
        detector = self._detector or self._load("_detector")
        image = _rgb(image)
        if scale >= 1:
            return [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(image, 0)]
        height, width = image.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = numpy.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        fx, fy = width / size[0], height / size[1]
        return [
            (
                round(r.left() * fx),
                round(r.top() * fy),
                round(r.right() * fx),
                round(r.bottom() * fy),
            )
            for r in detector(numpy.ascontiguousarray(small), 0)
        ]

    def landmarks(self, image: numpy.ndarray, box: Box) -> numpy.ndarray:
        """The 68 landmarks (iBUG numbering) as a (68, 2) float array of x, y."""
        predictor = self._shape68 or self._load("_shape68")
        shape = predictor(_rgb(image), _rectangle(box))
        return numpy.array([(p.x, p.y) for p in shape.parts()], dtype=numpy.float64)

    def descriptor(self, image: numpy.ndarray, box: Box) -> numpy.ndarray:
        """The 128-dimensional descriptor of the face in `box`, aligned by the 5-point model."""
        image = _rgb(image)
        predictor = self._shape5 or self._load("_shape5")
        encoder = self._encoder or self._load("_encoder")
        shape = predictor(image, _rectangle(box))
        return numpy.array(encoder.compute_face_descriptor(image, shape), dtype=numpy.float64)


_models: FaceModels | None = None
_models_lock = threading.Lock()


def configure(landmarks68_path: str | None) -> FaceModels:
    """Replace this process's models, e.g. with another 68-point file (a pool initializer
    calls this with the setting's path)."""
    global _models
    with _models_lock:
        _models = FaceModels(landmarks68_path)
        return _models


def models() -> FaceModels:
    """This process's models, made at first use."""
    global _models
    with _models_lock:
        if _models is None:
            _models = FaceModels()
        return _models
