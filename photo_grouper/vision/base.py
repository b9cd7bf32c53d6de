"""The one small interface every detector + encoder pair implements, so the pipeline can run any of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..media import ImageError

WHOLE_PHOTO = (0.0, 0.0, 1.0, 1.0)  # the box of an item that is the whole photo (species mode)


@dataclass(frozen=True)
class Found:
    """One face (or whole photo): box in normalised coordinates of the upright image, and its embedding."""

    box: tuple[float, float, float, float]  # x, y, w, h in 0..1
    score: float | None
    vector: np.ndarray  # float32, shape (dim,)
    verified: bool | None = None  # the face check's verdict, when one is known (a copy of a checked photo)


@dataclass(frozen=True)
class Outcome:
    """What analysing one photo gave: what was found, or why it could not be read."""

    found: list[Found] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class EncoderSpec:
    """A picklable recipe for an encoder, so worker processes can build their own copy."""

    mode: str  # "faces" | "species"
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, mode: str, **options) -> EncoderSpec:
        return cls(mode, tuple(sorted((k, v) for k, v in options.items() if v is not None)))


class Encoder(ABC):
    mode: str  # the library mode it serves
    kind: str  # detection kind it produces: "face" | "photo"
    model: str  # embedding model name, stored with each vector
    model_version: str
    dim: int
    # True when the work holds the GIL (dlib): the pipeline then runs it in worker processes.
    wants_processes: bool = True
    # Boxes the detector scored under this are checked by ``confirm`` before they count (None: no check).
    check_below: float | None = None
    # Why the work ran elsewhere than asked, once it has (a GPU out of memory: on the CPU); said in the summary.
    fallback: str | None = None

    @property
    def pipeline(self) -> str:
        """Identifies detector + encoder + settings: a photo analysed by one pipeline is not redone by it."""
        return f"{self.mode}:{self.detector_name}:{self.model}@{self.model_version}"

    @property
    def replaces(self) -> tuple[str, ...]:
        """Older pipelines whose results this one's replace in place (same boxes, new vectors: a new version of
        photo-grouper embedding the same way better), so what the user decided about each box stays."""
        return ()

    @property
    @abstractmethod
    def detector_name(self) -> str: ...

    @abstractmethod
    def analyse_one(self, path: Path) -> list[Found]:
        """Detect and embed; raise ``ImageError`` when the file cannot be decoded."""

    def confirm(self, path: Path, boxes: Sequence[tuple[float, float, float, float]]) -> list[bool]:
        """For each box (normalised x, y, w, h of the upright photo): is it what the detector took it for? Raise
        ``ImageError`` when the file cannot be decoded."""
        raise NotImplementedError(f"{type(self).__name__} has no check")

    def confirm_photos(self, items: Sequence[tuple[str, Sequence[tuple[int, tuple[float, float, float, float]]]]]
                       ) -> list[dict[int, bool] | None]:
        """``confirm`` over (photo path, [(detection id, box), ...]) items: a verdict per detection id, or None for
        a photo that can no longer be read."""
        out: list[dict[int, bool] | None] = []
        for path, dets in items:
            try:
                out.append(dict(zip([d for d, _ in dets], self.confirm(Path(path), [b for _, b in dets]))))
            except ImageError:
                out.append(None)
        return out

    def analyse(self, paths: Sequence[Path]) -> list[Outcome]:
        out = []
        for path in paths:
            try:
                out.append(Outcome(found=self.analyse_one(Path(path))))
            except ImageError as exc:
                out.append(Outcome(error=str(exc)))
        return out


def clip_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[float, float, float, float]:
    """Pixel corners -> normalised (x, y, w, h), clipped to the image."""
    x0, x1 = max(0.0, x0) / width, min(float(width), x1) / width
    y0, y1 = max(0.0, y0) / height, min(float(height), y1) / height
    return (x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))
