"""Shared fixtures: the real labelled photos in ../shared/data, and small photo folders made from them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PHOTO_GROUPER_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# As choosing CUDA does in the app (photo_grouper.device), but before any test's first matrix product on a card:
# a test that runs the model on CUDA without choose_device would fix cuBLAS's workspace before the estimator's.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def shared(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        # A missing data set is a broken checkout, not a reason to skip: fail loudly.
        pytest.fail(f"labelled photos not found at {folder}; set PHOTO_GROUPER_SHARED_DATA")
    return folder


@pytest.fixture(scope="session")
def faces_data() -> Path:
    return shared("faces-celeba")


@pytest.fixture(scope="session")
def pets_data() -> Path:
    return shared("pets-oxford")


def copy_identities(src: Path, dst: Path, names: list[str], per: int | None = None) -> list[Path]:
    """Copy the first ``per`` photos of each named identity folder into ``dst``; returns the copies."""
    out = []
    for name in names:
        (dst / name).mkdir(parents=True, exist_ok=True)
        for photo in sorted((src / name).iterdir())[:per]:
            out.append(Path(shutil.copy2(photo, dst / name / photo.name)))
    return out


def collage(photos: list[Path], out: Path) -> Path:
    """One photo holding the given photos side by side (a collage, or a group photo made of portraits)."""
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in photos]
    whole = Image.new("RGB", (sum(im.width for im in images), max(im.height for im in images)))
    left = 0
    for im in images:
        whole.paste(im, (left, 0))
        left += im.width
    whole.save(out, quality=95)
    return out


@pytest.fixture
def library_path(tmp_path) -> Path:
    return tmp_path / "library" / "photos.sqlite3"


def cancelled_at(report: int):
    """A progress meter whose cancel flag is set by its ``report``-th report, and the list of what it heard: the
    work must stop at its next report."""
    import threading

    from photo_grouper.progress import Meter

    flag, heard = threading.Event(), []

    def progress(done, total):
        heard.append(done)
        if len(heard) == report:
            flag.set()

    return Meter(progress, flag), heard
