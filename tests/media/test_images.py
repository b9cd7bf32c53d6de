from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from photo_grouper.media import ImageError, load_upright, read_info


def _jpeg(path, size=(400, 300), orientation=None, taken=None):
    rng = np.random.default_rng(sum(size))
    im = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    # A red block in the top-left corner of the stored pixels, to see where rotation puts it.
    im.paste((255, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    im.save(path, "JPEG", quality=92, exif=exif)
    return path


def test_orientation_and_date_from_exif(tmp_path):
    path = _jpeg(tmp_path / "r.jpg", (400, 300), orientation=6, taken="2021:07:14 18:30:05")
    info = read_info(path)
    assert (info.width, info.height) == (300, 400)  # rotated 90 degrees: upright is portrait
    assert info.orientation == 6
    assert info.taken_at == datetime(2021, 7, 14, 18, 30, 5)
    im = load_upright(path)
    assert im.size == (300, 400) and im.mode == "RGB"
    # Orientation 6 means "rotate 90 clockwise to view": the stored top-left goes to the top-right.
    top_right = np.asarray(im)[:40, -40:].reshape(-1, 3).mean(0)
    assert top_right[0] > 200 and top_right[1] < 60


def test_large_jpeg_is_decoded_downscaled(tmp_path):
    path = _jpeg(tmp_path / "big.jpg", (4000, 3000))
    im = load_upright(path, max_side=1000)
    assert max(im.size) == 1000 and im.size == (1000, 750)
    assert load_upright(path).size == (4000, 3000)


def test_png_without_exif(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGBA", (50, 20), (0, 0, 255, 128)).save(path)
    info = read_info(path)
    assert (info.width, info.height, info.orientation, info.taken_at) == (50, 20, None, None)
    assert load_upright(path).mode == "RGB"


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"just some text pretending to be a photo\n", "not an image"),
])
def test_unreadable_files_say_why(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        read_info(path)


def test_truncated_jpeg_fails_on_decode(tmp_path):
    good = _jpeg(tmp_path / "good.jpg", (600, 400))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:4000])
    assert read_info(cut).width == 600  # the header alone is fine
    with pytest.raises(ImageError, match="truncated"):
        load_upright(cut)


@pytest.mark.parametrize("name, make", [
    ("grey16.png", lambda g: Image.fromarray(g.astype(np.uint16) * 257)),  # PNG: opened as I;16
    ("grey16.tif", lambda g: Image.fromarray(g.astype(np.uint16) * 257)),
    ("grey32.tif", lambda g: Image.fromarray(g.astype(np.int32))),  # 8-bit values held in 32 bits
    ("float.tif", lambda g: Image.fromarray(g.astype(np.float32) / 255)),  # 0..1
])
def test_grey_photos_of_more_than_8_bits_keep_their_tones(tmp_path, name, make):
    """A 16-bit grey scan or a float TIFF is scaled to 8 bits, not clipped at 255 (which made it white and hid
    every face in it)."""
    grey = np.tile(np.linspace(0, 255, 64).round(), (48, 1))  # a ramp from black to white
    path = tmp_path / name
    make(grey).save(path)
    assert Image.open(path).mode not in ("L", "RGB")
    im = load_upright(path)
    assert im.mode == "RGB" and im.size == (64, 48)
    assert np.abs(np.asarray(im)[..., 0].astype(int) - grey).max() <= 1
