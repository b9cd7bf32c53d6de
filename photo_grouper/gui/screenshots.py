"""Screenshots of the window's main states, for the README:

    python -m photo_grouper.gui.screenshots docs/screenshots --photos ../shared/data/faces-celeba --people 8 --per 10

Copies the first PER photos of PEOPLE identity folders into a temporary folder, indexes them with the real pipeline,
names the two largest groups after the folder most of their faces come from, and saves window.png (the groups and
the first one's faces), tree.png (a group opened to its finer groups and faces), photo.png (a face's photo
with its box) and export.png (the export dialog). Runs offscreen when there is no display.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def _settle(app, window, seconds: float = 20.0) -> None:
    """Let thumbnails arrive and the layout finish before a picture is taken."""
    end, idle = time.monotonic() + seconds, 0
    while time.monotonic() < end and idle < 5:  # idle a few times running: a row painted late asks afterwards
        app.processEvents()
        idle = 0 if window.loader.is_loading() else idle + 1
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)


def take(app, window, out: Path) -> list[Path]:
    """Save the screenshots of ``window`` (a MainWindow with a library open) into ``out``."""
    from .export_dialog import ExportDialog

    out.mkdir(parents=True, exist_ok=True)
    saved = []

    def save(widget, name):
        _settle(app, window)
        path = out / name
        widget.grab().save(str(path))
        saved.append(path)

    window.resize(1280, 780)
    window.show()
    if window.model.rowCount():
        window.select_ref_row(0)
    save(window, "window.png")

    # The largest group with two finer groups or more, opened: its finer groups, the first down to its faces.
    from .group_tree import LEAF_ROLE, fill_groups, pending

    tops = [window.model.item(r, 0) for r in range(window.model.rowCount())]
    for item in tops:  # finer groups are built when a group is opened: built here to choose one
        if pending(item) == "groups":
            fill_groups(window.model, item)

    def finer_groups(item):
        return sum(1 for r in range(item.rowCount()) if not item.child(r, 0).data(LEAF_ROLE))

    top = max(tops, key=lambda t: (min(finer_groups(t), 2), int(window.model.item(t.row(), 1).text())), default=None)
    if top is not None:
        window.select_ref_row(top.row())
        window.tree.expand(top.index())
        first = top.child(0, 0)
        if first is not None and not first.data(LEAF_ROLE):
            window.tree.expand(first.index())
        for _ in range(3):  # the faces are filled in just after the expansion
            app.processEvents()
        window.tree.scrollTo(top.index(), window.tree.ScrollHint.PositionAtTop)
    save(window, "tree.png")

    if window.faces.rowCount():
        viewer = window.open_photo(window.faces.index(0))
        viewer.resize(700, 560)
        end = time.monotonic() + 10
        while viewer.canvas.image.isNull() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        save(viewer, "photo.png")
        viewer.close()

    dialog = ExportDialog(window.organizer.people(include_hidden=False), "~/Pictures/People",
                          window)
    dialog.xmp.setChecked(True)
    dialog.resize(520, 420)
    dialog.show()
    save(dialog, "export.png")
    dialog.close()
    return saved


def build_library(photos: Path, people: int, per: int, work: Path) -> Path:
    """Index PER photos of the first PEOPLE identities; name the two largest groups after their identity."""
    from ..jobs import index_folder
    from ..organize import Organizer
    from ..store import Library
    from ..vision import EncoderSpec

    folder = work / "photos"
    for identity in sorted(p for p in photos.iterdir() if p.is_dir())[:people]:
        (folder / identity.name).mkdir(parents=True)
        for photo in sorted(identity.iterdir())[:per]:
            shutil.copy2(photo, folder / identity.name / photo.name)
    path = work / "library.sqlite3"
    with Library(path) as library:
        index_folder(library, folder, EncoderSpec.of("faces"), cluster=True)
        org = Organizer(library, "faces")
        for group in [g for g in org.groups()[1] if g.kind == "auto"][:2]:
            _, members = org.show(group.ref)
            identity = Counter(Path(m.photo).parent.name for m in members).most_common(1)[0][0]
            org.name(group.ref, identity)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.gui.screenshots",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--photos", type=Path, required=True, help="a folder with one subfolder per person")
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--per", type=int, default=10)
    args = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        library = build_library(args.photos, args.people, args.per, work)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        # Settings of its own, in the temporary folder: the user's window size and library stay as they are.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "settings"))
        window = MainWindow(library, "faces", thumbnail_dir=work / "thumbnails")
        for path in take(app, window, args.out):
            print(path)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
