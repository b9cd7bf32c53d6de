"""Faces: dlib's HOG (or CNN) detector, 5-point alignment and the 128-d ResNet descriptor (99.38% on LFW).

The model files come from the installed ``face_recognition_models`` package. Its ``__init__`` needs
``pkg_resources``, so the folder is located with ``importlib.util.find_spec`` and the package is never imported.

Speed comes from where each step runs: the detector scans a copy shrunk to ``detect_side`` pixels (HOG cost grows
with the pixel count), while landmarks and descriptors are taken from a larger decode (``chip_side``) so a face
keeps its detail. Large JPEGs are decoded at a reduced DCT scale, never at full resolution.

The HOG score threshold sits a little below dlib's default (-0.2 instead of 0): on the shared CelebA photos it
found 7 of 12 missed faces (tilted heads, small faces) for 2 extra detections in 194 photos. Over all 1,937 of
them it also boxed about fifty things that are not faces (a pansy, a ball, playing cards, collars, signs, logos, a
dog), all scored under 0.6, and their descriptors can sit near real faces', so they joined people's groups. Boxes
scored under ``CHECK_BELOW`` are therefore confirmed by dlib's CNN face detector on a crop around the box
(``confirm``, run by the pipeline's check stage): of those 279 boxes it turned down 56, by eye 49 not faces, 6 too
blurred or dark to tell and 1 face cut by the photo's edge, and kept 223: 205 the most confident box of their
photo, and 18 second boxes, all faces by eye (docs/face-check.md).
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from ..media import load_upright
from .base import Encoder, Found, clip_box

SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR_MODEL = "mmod_human_face_detector.dat"
# The check: a HOG box scored under CHECK_BELOW (false boxes on CelebA scored up to 0.56; 14% of all boxes fall
# under it) is cut out with half its width around it and scaled so the cut-out's longer side is CHECK_SIDE pixels,
# the face about 100 (the CNN finds faces from about 80 up), which is 0.4 s of CNN on one core. It counts as a face
# when the CNN finds one overlapping it (intersection over union at least CHECK_OVERLAP).
CHECK_BELOW = 0.7
CHECK_SIDE = 200
CHECK_MARGIN = 0.5
CHECK_OVERLAP = 0.3


def models_folder() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face models are not installed: pip install face_recognition_models")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / DESCRIPTOR_MODEL).is_file():
        raise RuntimeError(f"face model files missing from {folder}")
    return folder


class DlibFaceEncoder(Encoder):
    mode = "faces"
    kind = "face"
    model = "dlib-resnet-v1"
    model_version = "1"
    dim = 128

    def __init__(self, detector: str = "hog", detect_side: int = 1024, chip_side: int = 2048,
                 upsample: int = 1, min_score: float = -0.2):
        if detector not in ("hog", "cnn"):
            raise ValueError(f"unknown face detector {detector!r} (use hog or cnn)")
        self.detector_kind = detector
        self.detect_side = int(detect_side)
        self.chip_side = max(int(chip_side), self.detect_side)
        self.upsample = int(upsample)
        self.min_score = float(min_score)

    @property
    def detector_name(self) -> str:
        return f"dlib-{self.detector_kind}-{self.detect_side}-u{self.upsample}-t{self.min_score:g}"

    # Models load on first use, in whichever process does the work.
    @cached_property
    def _dlib(self):
        import dlib

        return dlib

    @cached_property
    def _detector(self):
        if self.detector_kind == "cnn":
            return self._cnn
        return self._dlib.get_frontal_face_detector()

    @cached_property
    def _shapes(self):
        return self._dlib.shape_predictor(str(models_folder() / SHAPE_MODEL))

    @cached_property
    def _descriptor(self):
        return self._dlib.face_recognition_model_v1(str(models_folder() / DESCRIPTOR_MODEL))

    @property
    def check_below(self) -> float | None:
        return CHECK_BELOW if self.detector_kind == "hog" else None  # the CNN's own boxes need no second look

    @cached_property
    def _cnn(self):
        return self._dlib.cnn_face_detection_model_v1(str(models_folder() / CNN_DETECTOR_MODEL))

    def confirm(self, path: Path, boxes) -> list[bool]:
        image = load_upright(path, max_side=self.chip_side)
        return [self._confirm_box(image, box) for box in boxes]

    def _confirm_box(self, image: Image.Image, box: tuple[float, float, float, float]) -> bool:
        width, height = image.size
        x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
        pad = CHECK_MARGIN * max(w, h)
        left, top = max(0.0, x - pad), max(0.0, y - pad)
        right, bottom = min(float(width), x + w + pad), min(float(height), y + h + pad)
        if right - left < 1 or bottom - top < 1:
            return False
        scale = CHECK_SIDE / max(w + 2 * pad, h + 2 * pad)
        crop = image.crop((round(left), round(top), round(right), round(bottom)))
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                           Image.Resampling.BILINEAR)
        ours = ((x - left) * scale, (y - top) * scale, (x + w - left) * scale, (y + h - top) * scale)
        for found in self._cnn(np.asarray(crop), 0):
            r = found.rect
            if _overlap(ours, (r.left(), r.top(), r.right() + 1, r.bottom() + 1)) >= CHECK_OVERLAP:
                return True
        return False

    def detect(self, image: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        """Face boxes (left, top, right, bottom, score) in pixels of ``image``."""
        if self.detector_kind == "cnn":
            return [(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence)
                    for d in self._detector(image, self.upsample)]
        rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)
        return [(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores)]

    def analyse_one(self, path: Path) -> list[Found]:
        big = load_upright(path, max_side=self.chip_side)
        width, height = big.size
        scale = min(1.0, self.detect_side / max(width, height))
        small = big if scale == 1.0 else big.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR)
        boxes = self.detect(np.asarray(small))
        if not boxes:
            return []
        pixels = np.asarray(big)
        dlib = self._dlib
        up = width / small.width
        found_boxes, shapes = [], dlib.full_object_detections()
        for left, top, right, bottom, score in boxes:
            rect = dlib.rectangle(round(left * up), round(top * up), round(right * up), round(bottom * up))
            shapes.append(self._shapes(pixels, rect))
            found_boxes.append((clip_box(left * up, top * up, (right + 1) * up, (bottom + 1) * up, width, height),
                                float(score)))
        vectors = self._descriptor.compute_face_descriptor(pixels, shapes)
        return [Found(box, score, np.asarray(vec, dtype=np.float32))
                for (box, score), vec in zip(found_boxes, vectors)]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
