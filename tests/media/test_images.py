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
