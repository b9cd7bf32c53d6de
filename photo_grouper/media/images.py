"""Reading photos: which files are images, their upright size and EXIF facts, and fast downscaled decoding."""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp"}
HEIF_EXTENSIONS = {".heic", ".heif"}  # a phone's photos: read only where the optional pillow-heif is installed
HEIF_HOW = "pip install pillow-heif"

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    IMAGE_EXTENSIONS |= HEIF_EXTENSIONS
except ImportError:
    pass

# Pillow warns of a decompression bomb over MAX_IMAGE_PIXELS, and ``_open`` refuses the file then: real cameras
# reach ~100 MP and stitched panoramas more; 200 MP still catches a crafted file without refusing a real photo.
Image.MAX_IMAGE_PIXELS = 200_000_000

_EXIF_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_DATETIME = 0x0132


class ImageError(Exception):
    """A file could not be read as an image; the message says why, for the user."""


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def content_hash(path: Path) -> str:
    """BLAKE2b of the whole file: how a moved or renamed photo is recognised."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=32)).hexdigest()


@dataclass(frozen=True)
class ImageInfo:
    width: int  # upright, after EXIF orientation
    height: int
    orientation: int | None
    taken_at: datetime | None


def _open(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image, or an image format that cannot be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large to decode safely ({exc})") from None
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None


def _parse_exif_datetime(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def read_info(path: Path) -> ImageInfo:
    """Size, orientation and capture date from the header, without decoding the pixels."""
    with _open(path) as im:
        try:
            exif = im.getexif()
        except Exception:  # a broken EXIF block must not make the photo unreadable
            exif = {}
        orientation = exif.get(_EXIF_ORIENTATION)
        if not isinstance(orientation, int) or not 1 <= orientation <= 8:
            orientation = None
        taken = None
        try:
            taken = _parse_exif_datetime(exif.get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL))
        except Exception:
            pass
        taken = taken or _parse_exif_datetime(exif.get(_EXIF_DATETIME))
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageError("image has no pixels")
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees
        width, height = height, width
    return ImageInfo(width, height, orientation, taken)


# Grey images of more than 8 bits a sample (16-bit PNG and TIFF from scanners and raw converters): Pillow's
# convert("RGB") clips their values at 255 instead of scaling them, which whitens the whole photo.
_WIDE_GREY = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def _grey_to_8_bits(im: Image.Image) -> Image.Image:
    """``im`` (one of _WIDE_GREY) as 8-bit grey: 16-bit samples scaled from 0-65535; 32-bit ones (which say
    nothing of their range) from the smallest of 1 (floating point), 255, 65535 or their largest value that
    holds them."""
    a = np.asarray(im, dtype=np.float64)
    if im.mode.startswith("I;16"):
        top = 65535.0
    else:
        largest = float(a.max())
        top = next((t for t in ((1.0,) if im.mode == "F" else ()) + (255.0, 65535.0) if largest <= t), largest)
    return Image.fromarray(np.clip(a * (255.0 / top), 0, 255).round().astype(np.uint8), "L")


def load_upright(path: Path, max_side: int | None = None) -> Image.Image:
    """Decode to upright RGB. With ``max_side``, a JPEG is decoded at a reduced scale (libjpeg's DCT scaling,
    several times faster than a full decode) and the result is shrunk so its longer side is at most ``max_side``.
    """
    im = _open(path)
    try:
        if max_side and im.format == "JPEG" and max(im.size) > max_side:
            # draft() keeps both sides at least the requested ones, so ask for the aspect-correct size.
            scale = max_side / max(im.size)
            im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in _WIDE_GREY:
            im = _grey_to_8_bits(im)
        if im.mode != "RGB":
            im = im.convert("RGB")
        if max_side and max(im.size) > max_side:
            scale = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.Resampling.BILINEAR, reducing_gap=2.0)
        return im
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        # Truncated or corrupt data surfaces here, when the pixels are decoded.
        raise ImageError(f"corrupt or truncated image: {exc}") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large to decode safely ({exc})") from None
