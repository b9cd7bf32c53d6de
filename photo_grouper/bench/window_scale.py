"""How long the window takes to show a big library, and to show it again after a correction:

    QT_QPA_PLATFORM=offscreen python -m photo_grouper.bench.window_scale --faces 100000

Writes FACES synthetic faces (the geometry of ``bench.scale``) into a temporary library, groups them with the
shipped weights as `photo-grouper index` does (in a process of its own, as the window's index job is), then opens
the real window on it and times: opening the library (the tree at the level where the grouping stopped), zooming
in to the finest level and out again, naming the largest group (the correction and the tree shown anew), undoing
it, and listing the groups of one face too. Each time includes the events Qt handles until the window is idle
again. Prints seconds per step, the rows the tree holds and the thumbnails it asked for (the photos do not exist,
so each request fails at once).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.bench.window_scale",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from ..gui.group_tree import items
    from ..gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        # The window's settings go to the temporary folder, not to the user's.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))
        app = QApplication.instance() or QApplication(sys.argv[:1])
        QCoreApplication.setOrganizationName("photo-grouper-bench")
        QCoreApplication.setApplicationName("photo-grouper-bench")

        path = folder / "library.sqlite3"
        start = time.perf_counter()
        # In a process of its own, as the window's index job is: the window's process holds none of what grouping
        # leaves behind (torch and its objects, which every full pass of Python's garbage collector would walk).
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            grouped = pool.submit(_make_library, path, args.faces, args.seed).result()
        print(f"{grouped} faces grouped in {time.perf_counter() - start:.1f} s (not part of the window's times)")

        window = MainWindow(thumbnail_dir=folder / "thumbnails")
        window.resize(1200, 800)
        window.show()
        timings = []

        def timed(what: str, step) -> None:
            start = time.perf_counter()
            step()
            app.processEvents()
            seconds = time.perf_counter() - start  # not the count of rows below: a walk the window never makes
            timings.append((what, seconds, sum(1 for _ in items(window.model)), window.loader.requested))

        timed("open the library", lambda: window.open_library(path))
        top = window.zoom.value()
        timed("zoom in to the finest level", lambda: window.zoom.setValue(0))
        timed("zoom out to where the grouping stopped", lambda: window.zoom.setValue(top))
        ref = window.current_ref()
        timed("name the selected group", lambda: window.rename(ref, "Ada"))
        timed("undo it", window.undo_stack.undo)
        timed("list the groups of one face too", lambda: window._set_show_single(True))
        window.close()
        window.deleteLater()
        app.processEvents()
    print(f"{args.faces} faces; seconds per step (with the events until idle), tree rows after it, thumbnails "
          "asked for so far:")
    for what, seconds, rows, asked in timings:
        print(f"  {what}: {seconds:.2f} s, {rows} rows, {asked} thumbnails")
    return 0


def _make_library(path: Path, faces: int, seed: int) -> int:
    """A library of ``faces`` synthetic faces at ``path``, grouped as `photo-grouper index` leaves it."""
    from ..grouping import cluster_library
    from ..store import Library
    from .library import insert_faces
    from .scale import synthetic_library

    x, _ = synthetic_library(faces, seed=seed)
    with Library(path) as library:
        with library.session() as s:
            insert_faces(s, len(x), x)
        return cluster_library(library, "faces").items


if __name__ == "__main__":
    sys.exit(main())
