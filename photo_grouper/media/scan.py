"""Incremental scan of a photo folder into the library.

Unchanged files (same size and mtime) are not read again. A file whose bytes match a photo that vanished from its
old path is a move: the photo row, with its detections and embeddings, follows it. A vanished file is marked
missing, never deleted with its user data. Changes are committed in batches, so an interrupted scan keeps what it
did and the next one carries on; nothing is marked missing unless the whole folder was walked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, update

from ..progress import Cancelled, CancelFlag, Progress, no_progress
from ..store import Analysis, Library, Photo, PhotoStatus
from ..store.models import utcnow
from .images import HEIF_EXTENSIONS, HEIF_HOW, ImageError, ImageInfo, content_hash, is_image_path, read_info

BATCH = 256


class ScanError(Exception):
    """The folder cannot be scanned at all; the message is meant for the user."""


@dataclass
class ScanReport:
    files: int = 0
    new: int = 0
    unchanged: int = 0
    modified: int = 0
    moved: int = 0
    restored: int = 0
    missing: int = 0
    failed: int = 0
    unreadable_folders: list[str] = field(default_factory=list)
    # Files and folders whose names are not UTF-8 (written by an old system in another encoding): the library
    # stores paths as text, so they are left out, shown with the odd bytes escaped, until renamed.
    bad_names: list[str] = field(default_factory=list)
    # Photos this install cannot read (HEIC without pillow-heif): left out, but counted, not passed over in silence.
    unsupported: list[str] = field(default_factory=list)
    complete: bool = False

    def left_out(self) -> list[str]:
        """What the scan left out that the user can do something about, a line each (the command line's summary
        and the window's status bar say the same)."""
        lines = []
        if self.unsupported:
            lines.append(f"left out {len(self.unsupported)} HEIC/HEIF photo(s): this install cannot read them "
                         f"({HEIF_HOW} to index them), e.g. {self.unsupported[0]}")
        if self.bad_names:
            lines.append(f"left out {len(self.bad_names)} file(s) or folder(s) whose names are not UTF-8 text "
                         f"(rename them to index them, with convmv say), e.g. {self.bad_names[0]}")
        return lines


@dataclass(frozen=True)
class _File:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class _Read:
    """What reading a file gave: its hash, and either its header facts or why it is not an image."""

    file: _File
    hash: str | None
    info: ImageInfo | None
    error: str | None


def check_folder(root: Path | str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise ScanError(f"folder not found: {root}")
    if not root.is_dir():
        raise ScanError(f"not a folder: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ScanError(f"cannot read folder: {root} (permission denied)")
    root = root.resolve()
    if not _is_utf8(str(root)):
        raise ScanError(f"the folder's path is not UTF-8 text: {shown(str(root))} (rename it to index it)")
    return root


def _is_utf8(name: str) -> bool:
    """Whether a name read from the disk is text (Python holds the bytes of one that is not as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """A path for a message, its bytes that are not UTF-8 escaped (\\xe9)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def under(root: Path):
    """SQL condition: the photo's path lies inside ``root`` (a range on the path index, no LIKE escaping)."""
    prefix = str(root).rstrip(os.sep) + os.sep
    # Every path starting with prefix sorts between prefix and prefix with its last character bumped.
    return (Photo.path >= prefix) & (Photo.path < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def walk_images(root: Path, report: ScanReport) -> Iterator[_File]:
    """Image files under root, hidden files and folders skipped, symlinked folders not followed; what could not
    be read, names that are not UTF-8 and photos this install cannot read are noted in ``report``."""
    errors, bad_names, unsupported = report.unreadable_folders, report.bad_names, report.unsupported

    def onerror(exc: OSError) -> None:
        errors.append(f"{exc.filename}: {exc.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        bad_names.extend(shown(os.path.join(dirpath, d)) + os.sep for d in dirnames if not _is_utf8(d))
        dirnames[:] = [d for d in dirnames if _is_utf8(d)]
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if not is_image_path(Path(name)):
                if Path(name).suffix.lower() in HEIF_EXTENSIONS and _is_utf8(name):
                    unsupported.append(os.path.join(dirpath, name))
                continue
            path = os.path.join(dirpath, name)
            if not _is_utf8(name):
                bad_names.append(shown(path))
                continue
            try:
                st = os.stat(path)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror}")
                continue
            yield _File(path, st.st_size, st.st_mtime_ns)


def _read(file: _File) -> _Read:
    try:
        digest = content_hash(Path(file.path))
    except OSError as exc:
        return _Read(file, None, None, f"cannot read file: {exc.strerror}")
    try:
        return _Read(file, digest, read_info(Path(file.path)), None)
    except ImageError as exc:
        return _Read(file, digest, None, str(exc))


def _set_content(photo: Photo, read: _Read) -> None:
    photo.size, photo.mtime_ns = read.file.size, read.file.mtime_ns
    photo.content_hash = read.hash
    photo.seen_at = utcnow()
    if read.info is not None:
        photo.width, photo.height = read.info.width, read.info.height
        photo.orientation, photo.taken_at = read.info.orientation, read.info.taken_at
        photo.status, photo.error = PhotoStatus.OK, None
    else:
        photo.status, photo.error = PhotoStatus.FAILED, read.error


def scan_folder(library: Library, root: Path | str, *, progress: Progress = no_progress,
                cancel: CancelFlag | None = None, threads: int = 4,
                on_report: Callable[[ScanReport], None] | None = None) -> ScanReport:
    """Bring the library's view of ``root`` up to date with the disk. Raises ``Cancelled`` if cancelled."""
    root = check_folder(root)
    report = ScanReport()
    files = list(walk_images(root, report))
    report.files = len(files)
    total = len(files)
    progress(0, total)

    with library.session() as s:
        known = {p.path: p for p in s.execute(
            select(Photo.id, Photo.path, Photo.size, Photo.mtime_ns, Photo.status).where(under(root))).all()}

    seen = {f.path for f in files}
    vanished_ids = {p.id for path, p in known.items() if path not in seen and p.status != PhotoStatus.MISSING}
    to_read: list[_File] = []
    restored: list[int] = []
    done = 0
    for f in files:
        row = known.get(f.path)
        if row is not None and row.size == f.size and row.mtime_ns == f.mtime_ns:
            report.unchanged += 1
            done += 1
            if row.status == PhotoStatus.MISSING:
                restored.append(row.id)
        else:
            to_read.append(f)
    if restored:
        with library.session() as s:
            # Back where it was, bytes unchanged: its failure reason (if any) still holds.
            s.execute(update(Photo).where(Photo.id.in_(restored), Photo.error.is_(None))
                      .values(status=PhotoStatus.OK, seen_at=utcnow()))
            s.execute(update(Photo).where(Photo.id.in_(restored), Photo.error.is_not(None))
                      .values(status=PhotoStatus.FAILED, seen_at=utcnow()))
        report.restored = len(restored)
    progress(done, total)

    claimed: set[int] = set()  # vanished photos already matched to a moved file in this scan
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for start in range(0, len(to_read), BATCH):
            if cancel is not None and cancel.is_set():
                raise Cancelled(report)
            batch = list(pool.map(_read, to_read[start:start + BATCH]))
            with library.session() as s:
                for read in batch:
                    _apply(s, read, known.get(read.file.path), vanished_ids, claimed, report)
            done += len(batch)
            progress(done, total)
            if on_report:
                on_report(report)

    if cancel is not None and cancel.is_set():
        raise Cancelled(report)
    gone = vanished_ids - claimed
    if gone:
        with library.session() as s:
            s.execute(update(Photo).where(Photo.id.in_(gone)).values(status=PhotoStatus.MISSING))
        report.missing = len(gone)
    report.complete = True
    return report


def _apply(s, read: _Read, row, vanished_ids: set[int], claimed: set[int], report: ScanReport) -> None:
    if row is not None:
        photo = s.get(Photo, row.id)
        if read.hash is not None and read.hash == photo.content_hash:
            # Touched, not changed: keep everything, remember the new mtime.
            photo.size, photo.mtime_ns, photo.seen_at = read.file.size, read.file.mtime_ns, utcnow()
            if photo.status == PhotoStatus.MISSING:  # back, copied in again (a new mtime)
                photo.status = PhotoStatus.FAILED if photo.error else PhotoStatus.OK
                report.restored += 1
            report.unchanged += 1
            return
        # New bytes at a known path: what was found in the old bytes no longer applies.
        s.execute(delete(Analysis).where(Analysis.photo_id == photo.id))
        _set_content(photo, read)
        report.modified += 1
        report.failed += photo.status == PhotoStatus.FAILED
        return

    if read.hash is not None:
        # A moved or renamed photo: same bytes as one that vanished, now or in an earlier scan.
        candidates = s.scalars(select(Photo).where(
            Photo.content_hash == read.hash, Photo.size == read.file.size).order_by(Photo.id)).all()
        for photo in candidates:
            if photo.id in claimed:
                continue
            if photo.id in vanished_ids or not os.path.exists(photo.path):
                claimed.add(photo.id)
                photo.path = read.file.path
                _set_content(photo, read)
                report.moved += 1
                return

    photo = Photo(path=read.file.path, content_hash=read.hash or "", size=read.file.size,
                  mtime_ns=read.file.mtime_ns)
    _set_content(photo, read)
    s.add(photo)
    report.new += 1
    report.failed += photo.status == PhotoStatus.FAILED
