"""Thumbnails of faces (cropped with a margin) or whole photos, cached on disk by the photo's content hash.

The key is the content hash, the box and the size, so a moved or renamed photo keeps its thumbnails and an edited
one gets new ones. Files are written under a temporary name and renamed, so a crash never leaves half a JPEG.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import platformdirs
from PIL import Image

from .images import load_upright

THUMB_SIDE = 256  # cached side in pixels; the grid scales it down for smaller icons
MARGIN = 0.3  # face crops reach this share of the box's side beyond each edge

Box = tuple[float, float, float, float]  # x, y, w, h in 0..1 of the upright photo


def crop_rect(box: Box | None, width: int, height: int, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The square (where the photo allows) around ``box`` grown by ``margin``, in pixels, inside the photo."""
    if box is None:
        return 0, 0, width, height
    x, y, w, h = box
    side = max(w * width, h * height) * (1 + 2 * margin)
    cx, cy = (x + w / 2) * width, (y + h / 2) * height
    sw, sh = min(side, width), min(side, height)
    left = min(max(cx - sw / 2, 0), width - sw)
    top = min(max(cy - sh / 2, 0), height - sh)
    return round(left), round(top), round(left + sw), round(top + sh)


def default_thumbnail_dir() -> Path:
    return Path(platformdirs.user_cache_dir("photo-grouper", appauthor=False)) / "thumbnails"


class ThumbnailCache:
    def __init__(self, folder: Path, side: int = THUMB_SIDE):
        self.folder = Path(folder)
        self.side = side

    def path_for(self, content_hash: str, box: Box | None) -> Path:
        box_text = "photo" if box is None else ",".join(f"{v:.4f}" for v in box)
        key = hashlib.blake2b(f"{content_hash}|{box_text}|{self.side}".encode(), digest_size=16).hexdigest()
        return self.folder / key[:2] / f"{key}.jpg"

    def get(self, photo: Path, content_hash: str, box: Box | None, size: tuple[int, int] | None = None) -> Path:
        """The cached thumbnail, made first if needed. ``size`` (upright width, height, as the library stores
        it) lets a large JPEG decode at a reduced scale. Raises media.images.ImageError for an unreadable photo."""
        target = self.path_for(content_hash, box)
        if target.is_file():
            return target
        image = make_thumbnail(Path(photo), box, self.side, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.stem}.{os.getpid()}.partial")
        image.save(partial, "JPEG", quality=88)
        os.replace(partial, target)
        return target


def make_thumbnail(photo: Path, box: Box | None, side: int, size: tuple[int, int] | None = None) -> Image.Image:
    max_side = None
    if size and all(size):
        # Decode just large enough that the crop still has ``side`` pixels (libjpeg scales by 1/2, 1/4, 1/8).
        left, top, right, bottom = crop_rect(box, *size)
        crop_side = max(right - left, bottom - top, 1)
        max_side = max(side, math.ceil(max(size) * side / crop_side))
    image = load_upright(photo, max_side)
    image = image.crop(crop_rect(box, image.width, image.height))
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image
