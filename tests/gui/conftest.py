import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def private_settings(tmp_path, qapp, monkeypatch):
    """Window settings go to a file of the test's own, never the user's; so do thumbnails (XDG cache)."""
    from PySide6.QtCore import QSettings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    qapp.setOrganizationName("photo-grouper-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"
    # Collect the test's closed windows here, with their thumbnail pools drained, not at a random point of the next
    # test's event loop: once (2026-11-29, a clean-clone run) a collection there, while that test's thumbnail
    # threads were making crops, ended in a segmentation fault.
    gc.collect()


@pytest.fixture
def photo_library(tmp_path, faces_data):
    """The organize tests' two-level library (A 4 faces, B 3, C 2; level 1 joins A and B), each face in a real
    shared photo of one CelebA person per letter, so thumbnails and the photo viewer have pixels to show."""
    import shutil

    from sqlalchemy import select

    from photo_grouper.media.images import content_hash, read_info
    from photo_grouper.store import Detection, Photo

    from ..organize.conftest import make_library

    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]})
    people = dict(zip("ABC", ["celeb-07209", "celeb-07213", "celeb-07225"]))
    (tmp_path / "photos").mkdir()
    with made.library.session() as s:
        for photo in s.scalars(select(Photo)):
            stem = os.path.splitext(os.path.basename(photo.path))[0]  # "A0"
            src = sorted((faces_data / people[stem[0]]).iterdir())[int(stem[1:])]
            dst = tmp_path / "photos" / f"{stem}-{src.name}"
            shutil.copy2(src, dst)
            info = read_info(dst)
            photo.path, photo.content_hash = str(dst), content_hash(dst)
            photo.width, photo.height = info.width, info.height
        for det in s.scalars(select(Detection)):
            det.x, det.y, det.w, det.h = 0.25, 0.3, 0.5, 0.45  # where CelebA's aligned faces sit
    yield made
    made.library.close()
