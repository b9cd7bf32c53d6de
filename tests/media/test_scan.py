import os
import shutil

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

import photo_grouper.media.scan as scan_module
from photo_grouper.media import ScanError, scan_folder
from photo_grouper.progress import CancelEvent, Cancelled
from photo_grouper.store import Analysis, Detection, Library, Photo, PhotoStatus


def _photo(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path, "JPEG")
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    for i in range(6):
        _photo(root / ("sub" if i % 2 else "") / f"p{i}.jpg", i)
    (root / "notes.txt").write_text("not a photo, and not an image extension")
    _photo(root / ".hidden" / "h.jpg", 99)
    return root


def _photos(lib):
    with lib.session() as s:
        return {os.path.basename(p.path): p for p in s.scalars(select(Photo))}


def _add_analysis(lib, name):
    """Stand in for the analyse stage: a face found in the photo called ``name``."""
    with lib.session() as s:
        photo = s.scalars(select(Photo).where(Photo.path.endswith(name))).one()
        analysis = Analysis(photo_id=photo.id, pipeline="faces:test", status="done", found=1)
        analysis.detections.append(Detection(photo_id=photo.id, kind="face", x=0, y=0, w=0.5, h=0.5))
        s.add(analysis)
        return photo.id


def test_first_scan_adds_images_only(folder, library_path):
    with Library(library_path) as lib:
        report = scan_folder(lib, folder)
        assert (report.files, report.new, report.failed, report.complete) == (6, 6, 0, True)
        photos = _photos(lib)
        assert sorted(photos) == [f"p{i}.jpg" for i in range(6)]
        assert all(p.status == PhotoStatus.OK and (p.width, p.height) == (80, 60) for p in photos.values())
        assert all(len(p.content_hash) == 64 for p in photos.values())


def test_unchanged_files_are_not_read_again(folder, library_path, monkeypatch):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        reads = []
        monkeypatch.setattr(scan_module, "_read", lambda f: reads.append(f) or pytest.fail("re-read"))
        report = scan_folder(lib, folder)
    assert (report.unchanged, report.new, report.modified) == (6, 0, 0)
    assert reads == []


def test_moved_and_renamed_files_keep_their_detections(folder, library_path):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        photo_id = _add_analysis(lib, "p1.jpg")
        (folder / "elsewhere").mkdir()
        shutil.move(folder / "sub" / "p1.jpg", folder / "elsewhere" / "renamed.jpg")
        report = scan_folder(lib, folder)
        assert (report.moved, report.new, report.missing) == (1, 0, 0)
        photos = _photos(lib)
        assert "p1.jpg" not in photos
        moved = photos["renamed.jpg"]
        assert moved.id == photo_id and moved.path.endswith("elsewhere/renamed.jpg")
        with lib.session() as s:
            assert len(s.get(Photo, photo_id).detections) == 1


def test_a_photo_moved_while_missing_is_found_again(folder, library_path, tmp_path):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        photo_id = _add_analysis(lib, "p2.jpg")
        shutil.move(folder / "p2.jpg", tmp_path / "away.jpg")
        assert scan_folder(lib, folder).missing == 1
        assert _photos(lib)["p2.jpg"].status == PhotoStatus.MISSING
        shutil.move(tmp_path / "away.jpg", folder / "sub" / "back.jpg")
        report = scan_folder(lib, folder)
        assert report.moved == 1
        back = _photos(lib)["back.jpg"]
        assert back.id == photo_id and back.status == PhotoStatus.OK


def test_deleted_files_are_marked_missing_not_dropped(folder, library_path):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        photo_id = _add_analysis(lib, "p4.jpg")
        saved = (folder / "p4.jpg").read_bytes()
        stat = (folder / "p4.jpg").stat()
        (folder / "p4.jpg").unlink()
        report = scan_folder(lib, folder)
        assert report.missing == 1
        with lib.session() as s:
            photo = s.get(Photo, photo_id)
            assert photo.status == PhotoStatus.MISSING and len(photo.detections) == 1
        # The same file back at the same place (same size and mtime) is simply restored.
        (folder / "p4.jpg").write_bytes(saved)
        os.utime(folder / "p4.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns))
        report = scan_folder(lib, folder)
        assert report.restored == 1 and report.missing == 0
        assert _photos(lib)["p4.jpg"].status == PhotoStatus.OK
        # Copied back from a backup (the same bytes, a new mtime): restored too, and counted so.
        (folder / "p4.jpg").unlink()
        assert scan_folder(lib, folder).missing == 1
        (folder / "p4.jpg").write_bytes(saved)
        report = scan_folder(lib, folder)
        assert (report.restored, report.unchanged, report.modified) == (1, 6, 0)
        assert _photos(lib)["p4.jpg"].status == PhotoStatus.OK


def test_modified_file_drops_old_results(folder, library_path):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        photo_id = _add_analysis(lib, "p0.jpg")
        old_hash = _photos(lib)["p0.jpg"].content_hash
        _photo(folder / "p0.jpg", 1234)
        report = scan_folder(lib, folder)
        assert report.modified == 1
        with lib.session() as s:
            photo = s.get(Photo, photo_id)
            assert photo.content_hash != old_hash
            assert photo.detections == [] and photo.analyses == []


def test_touched_file_is_not_modified(folder, library_path):
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        photo_id = _add_analysis(lib, "p0.jpg")
        os.utime(folder / "p0.jpg", ns=(0, 1_000_000_000))
        report = scan_folder(lib, folder)
        assert report.modified == 0 and report.unchanged == 6
        with lib.session() as s:
            assert len(s.get(Photo, photo_id).detections) == 1


def test_bad_files_are_recorded_and_the_scan_goes_on(folder, library_path):
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "fake.png").write_text("hello")
    with Library(library_path) as lib:
        report = scan_folder(lib, folder)
        assert (report.new, report.failed) == (8, 2)
        photos = _photos(lib)
        assert photos["zero.jpg"].status == PhotoStatus.FAILED and "empty" in photos["zero.jpg"].error
        assert photos["fake.png"].status == PhotoStatus.FAILED and "not an image" in photos["fake.png"].error
        assert photos["p0.jpg"].status == PhotoStatus.OK


def test_missing_folder_is_a_clear_error(tmp_path, library_path):
    with Library(library_path) as lib:
        with pytest.raises(ScanError, match="folder not found"):
            scan_folder(lib, tmp_path / "nope")
        with pytest.raises(ScanError, match="not a folder"):
            scan_folder(lib, _photo(tmp_path / "x.jpg", 0))


def test_cancelled_scan_keeps_its_work_and_marks_nothing_missing(folder, library_path, monkeypatch):
    monkeypatch.setattr(scan_module, "BATCH", 2)
    with Library(library_path) as lib:
        scan_folder(lib, folder)
        (folder / "p5.jpg").unlink() if (folder / "p5.jpg").exists() else (folder / "sub" / "p5.jpg").unlink()
        for i in range(10, 16):
            _photo(folder / "new" / f"n{i}.jpg", i)
        cancel = CancelEvent()
        calls = []

        def progress(done, total):
            calls.append(done)
            if len(calls) == 3:  # after the first batch was committed
                cancel.set()

        with pytest.raises(Cancelled) as info:
            scan_folder(lib, folder, progress=progress, cancel=cancel)
        assert info.value.partial.new == 2 and not info.value.partial.complete
        photos = _photos(lib)
        assert photos["p5.jpg"].status == PhotoStatus.OK  # not walked to the end: nothing marked missing
        report = scan_folder(lib, folder)
        assert (report.new, report.missing) == (4, 1)


def test_names_that_are_not_utf8_are_left_out_and_said(folder, library_path, tmp_path):
    """A file or folder named in another encoding (an old camera card, a Windows share: b'caf\\xe9.jpg') cannot be
    stored as a path: it is left out and named in the report, its bytes escaped, and the rest is indexed. A folder
    to index with such a name is refused with the same words."""
    raw = os.fsencode(folder)
    shutil.copy(folder / "p0.jpg", raw + b"/caf\xe9.jpg")
    os.makedirs(raw + b"/dir\xff")
    shutil.copy(folder / "p0.jpg", raw + b"/dir\xff/inside.jpg")
    lib = Library(library_path)
    report = scan_folder(lib, folder)
    assert report.complete and report.new == 6 and report.failed == 0
    assert sorted(report.bad_names) == [f"{folder}/caf\\xe9.jpg", f"{folder}/dir\\xff/"]
    assert len(_photos(lib)) == 6
    lib.close()
    with Library(tmp_path / "other.sqlite3") as other, pytest.raises(ScanError, match=r"not UTF-8 text: .*dir\\xff"):
        scan_folder(other, os.fsdecode(raw + b"/dir\xff"))


def test_heic_photos_this_install_cannot_read_are_counted_not_passed_over(folder, library_path, monkeypatch):
    """Without pillow-heif a phone's HEIC photos cannot be read: they are left out, but the report names them, so
    a library of iPhone photos does not look indexed when most of it was not."""
    from photo_grouper.media import images

    monkeypatch.setattr(scan_module, "is_image_path", lambda p: p.suffix.lower() in
                        images.IMAGE_EXTENSIONS - images.HEIF_EXTENSIONS)  # as where pillow-heif is not installed
    (folder / "sub" / "IMG_0001.HEIC").write_bytes(b"not read")
    (folder / "IMG_0002.heif").write_bytes(b"not read")
    with Library(library_path) as lib:
        report = scan_folder(lib, folder)
        assert report.new == 6 and sorted(report.unsupported) == [str(folder / "IMG_0002.heif"),
                                                                 str(folder / "sub" / "IMG_0001.HEIC")]
        assert len(_photos(lib)) == 6
