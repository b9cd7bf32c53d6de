"""Random runs of corrections, undos, zooms, view switches and opened groups in the window (a fixed seed each): the
tree keeps rows across changes and the organizer keeps what it read while the library is unchanged, so after every
step the tree must be the tree built from nothing, and the listing the one a fresh reader of the file makes."""

import os
import random

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from photo_grouper.gui.group_tree import (REF_ROLE, GroupTreeModel, build_model, fill_faces,  # noqa: E402
                                          fill_groups, pending)
from photo_grouper.gui.main_window import MainWindow  # noqa: E402
from photo_grouper.organize import Organizer  # noqa: E402
from photo_grouper.store import Library  # noqa: E402

from ..organize.conftest import make_library  # noqa: E402
from .tree_rows import rows  # noqa: E402

NAMES = ["Ada", "Bea", "Cy", "Dot"]


def listing_key(groups):
    return [(g.ref, g.title, g.hidden, g.size, g.confirmed, g.suggested, g.peak_detection_id, g.peak_photo)
            for g in groups]


class Run:
    """One random run over a window of ``path``: ``refreshed`` counts the window's refreshes since the last check,
    ``landed`` the corrections that went through."""

    def __init__(self, window: MainWindow, path, seed: int):
        self.window, self.path, self.rng = window, path, random.Random(seed)
        self.refreshed = self.landed = 0
        refresh = window.refresh

        def counted():
            self.refreshed += 1
            refresh()
        window.refresh = counted

    def tops(self):
        m = self.window.model
        return [m.item(r, 0).data(REF_ROLE) for r in range(m.rowCount())]

    def faces_of(self, ref):
        return [m.detection_id for m in self.window.organizer.show(ref, self.window.zoom.value())[1]]

    def step(self):
        w, rng = self.window, self.rng
        if not w.model.rowCount():
            name = rng.choice(["undo", "zoom", "hidden", "single"])
        else:
            name = rng.choice(["rename", "merge", "split", "reject", "move", "confirm", "hide", "ignore", "undo",
                               "redo", "zoom", "hidden", "single", "expand", "collapse", "select"])
        ref = rng.choice(self.tops()) if w.model.rowCount() else None
        faces = self.faces_of(ref) if ref else []  # none for a named person whose faces all went elsewhere
        if name in ("split", "reject", "move", "ignore") and not faces:
            name = "select"
        def org(operation):
            self.landed += w.apply(operation) is not None
        if name == "rename":
            org(lambda o: o.name(ref, rng.choice(NAMES)))
        elif name == "merge" and w.model.rowCount() > 1:
            refs = rng.sample(self.tops(), 2)
            org(lambda o: o.merge(refs))
        elif name == "split":
            org(lambda o: o.split(ref, faces=faces[:max(1, len(faces) // 2)]))
        elif name == "reject":
            org(lambda o: o.reject(ref, faces[:1]))
        elif name == "move":
            face, to = faces[-1], rng.choice(self.tops())
            org(lambda o: o.move([face], to))
        elif name == "confirm":
            org(lambda o: o.confirm(ref))
        elif name == "hide":
            hidden = rng.random() < 0.7
            org(lambda o: o.hide(ref, hidden))
        elif name == "ignore":
            face = faces[0]
            org(lambda o: o.ignore([face]))
        elif name == "undo":
            w.undo_stack.undo()
        elif name == "redo":
            w.undo_stack.redo()
        elif name == "zoom":
            w.zoom.setValue(rng.randrange(w.zoom.minimum(), w.zoom.maximum() + 1))
        elif name == "hidden":
            w._set_show_hidden(not w.show_hidden)
        elif name == "single":
            w._set_show_single(not w.show_single)
        elif name == "expand":
            w.tree.expand(w.model.index(rng.randrange(w.model.rowCount()), 0))
        elif name == "collapse":
            w.tree.collapseAll()
        elif name == "select":
            w.select_ref_row(rng.randrange(w.model.rowCount()))
        return name

    def check(self, qtbot, what):
        w = self.window
        qtbot.wait(1)  # opened groups are filled from the event loop
        state, groups = w.organizer.groups(w.zoom.value(), include_hidden=w.show_hidden,
                                           min_size=1 if w.show_single else 2)
        fresh = GroupTreeModel()
        fresh.items = w.model.items
        build_model(state, groups, fresh)
        for r in range(w.model.rowCount()):
            index = w.model.index(r, 0)
            if self.refreshed and not w.tree.isExpanded(index):  # a closed group is made anew when opened
                assert not w.model.rowCount(index), f"{what}: closed row {r} still holds rows"
            if w.model.rowCount(index) or w.tree.isExpanded(index):  # an opened group's rows, in the fresh tree too
                item = fresh.item(r, 0)
                if pending(item) == "groups":
                    fill_groups(fresh, item)
                if pending(item) == "faces":
                    fill_faces(item, w.organizer.show(item.data(REF_ROLE), w.zoom.value())[1])
        self.refreshed = 0
        assert rows(w.model, w.model.index(-1, -1)) == rows(fresh, fresh.index(-1, -1)), what
        assert len(w.model.keys) == w.model.rowCount(), what
        with Library(self.path) as lib:
            other = Organizer(lib, "faces")
            _, anew = other.groups(w.zoom.value(), include_hidden=w.show_hidden, min_size=1 if w.show_single else 2)
            other.close()
        assert listing_key(groups) == listing_key(anew), what
        ref = w.current_ref()
        if ref is not None and w.faces.group_ref == ref:  # the grid shows the chosen group's faces as they are
            assert sorted(m.detection_id for m in w.faces.members) == sorted(self.faces_of(ref)), what


@pytest.mark.parametrize("seed", [0, 1, 11])
def test_random_corrections_keep_the_tree_and_the_listing_true(qtbot, tmp_path, monkeypatch, seed):
    refused = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: refused.append(a[2]))
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: pytest.fail(a[2]))
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    path = tmp_path / "lib.sqlite3"
    made = make_library(path, {"A": 5, "B": 3, "C": 2, "D": 1, "E": 4, "F": 1, "G": 2, "H": 3},
                        {"AB": ["A", "B"], "C": ["C"], "DE": ["D", "E"], "F": ["F"], "GH": ["G", "H"]},
                        shared_photo=[("A", 1), ("C", 1)])
    made.library.close()
    window = MainWindow(path)
    qtbot.addWidget(window)
    run = Run(window, path, seed)
    run.check(qtbot, "open")
    done = []
    for i in range(120):
        done.append(run.step())
        run.check(qtbot, f"step {i}: {' '.join(done[-3:])}")
    # The run did what it was for: corrections landed, and some were refused (said, nothing changed).
    assert {"rename", "merge", "split", "undo", "redo", "zoom", "expand"} <= set(done)
    assert run.landed > 20 and len(refused) < run.landed
