"""Where the offline face models live, loaded once per process.

dlib's HOG detector is compiled into the ``dlib-bin`` wheel; the 5-point
landmark model and the 128-D ResNet embedding ship as data files in the
``face-recognition-models`` wheel. That package's ``__init__`` imports
``pkg_resources`` (absent from modern setuptools), so we locate its folder
without executing it. The 68-point model is deliberately not used: its
training data (iBUG 300-W) forbids commercial use; the 5-point model is
trained on dlib's own CC0 data set.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
FACE_EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"


class FaceModelMissingError(RuntimeError):
    """A face model file is not installed; the message says which package to install."""


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelMissingError(
            "the face landmark/embedding models are missing: pip install face-recognition-models==0.3.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str) -> Path:
    path = models_dir() / name
    if not path.is_file():
        raise FaceModelMissingError(f"{path} is missing: reinstall face-recognition-models==0.3.0")
    return path


@lru_cache(maxsize=None)
def model_sha256(name: str) -> str:
    return hashlib.sha256(model_path(name).read_bytes()).hexdigest()


def _dlib():
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise FaceModelMissingError("dlib is not installed: pip install dlib-bin==20.0.1.post1") from exc
    return dlib


@lru_cache(maxsize=1)
def hog_detector():
    return _dlib().get_frontal_face_detector()


@lru_cache(maxsize=1)
def landmark_predictor():
    return _dlib().shape_predictor(str(model_path(LANDMARKS_5)))


@lru_cache(maxsize=1)
def embedding_model():
    return _dlib().face_recognition_model_v1(str(model_path(FACE_EMBEDDING)))


@lru_cache(maxsize=1)
def haar_cascade():
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise FaceModelMissingError(
            f"{path} is missing: OpenCV 5.x dropped the Haar cascades; pip install opencv-python-headless==4.14.0.94"
        )
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise FaceModelMissingError(f"{path} could not be loaded by OpenCV")
    return cascade
