"""The main window on a real library: the group tree and the zoom over the hierarchy (pytest-qt, offscreen)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from photo_grouper.gui.group_tree import REF_ROLE, pending  # noqa: E402
from photo_grouper.gui.main_window import MainWindow  # noqa: E402

from ..organize.conftest import make_library  # noqa: E402


def top_rows(window):
    m = window.model
    return [(m.item(r, 0).text(), int(m.item(r, 1).text()), m.item(r, 0).data(REF_ROLE)) for r in range(m.rowCount())]


def test_zoom_changes_the_groups_along_the_hierarchy(qtbot, tmp_path):
    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]})
    made.org.name(f"g{made.coarse['C']}", "Cleo")
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)

    # Default: the coarsest level; people first, then the automatic groups with their finer groups inside.
    assert window.zoom.value() == 1 and "level 1 of 2" in window.zoom_label.text()
    # The coarsest level: nothing further out, and the window says so rather than ignoring Ctrl+-.
    assert "where the grouping stopped, the coarsest" in window.zoom_label.text()
    assert not window.zoom_default_action.isEnabled()  # at the default already
    assert not window.zoom_out_action.isEnabled() and window.zoom_in_action.isEnabled()
    assert [(t, n) for t, n, _ in top_rows(window)] == [("Cleo", 2), (f"unnamed group g{made.coarse['AB']}", 7)]
    ab = window.model.item(1, 0)
    assert pending(ab) == "groups"  # built when the group is opened
    window.tree.expand(ab.index())
    qtbot.waitUntil(lambda: pending(ab) is None)
    assert sorted(ab.child(r, 0).data(REF_ROLE) for r in range(ab.rowCount())) == \
        sorted([f"g{made.fine['A']}", f"g{made.fine['B']}"])

    # Zooming in (Ctrl+=) splits AB into A and B; zooming out (Ctrl+-) merges them again.
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.tree, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.zoom.value() == 0
    assert [n for _, n, _ in top_rows(window)] == [2, 4, 3]
    assert not window.zoom_in_action.isEnabled() and window.zoom_out_action.isEnabled()
    assert "coarsest" not in window.zoom_label.text()
    assert "finer than where the grouping stopped, level 1" in window.zoom_label.text()
    qtbot.keyClick(window.tree, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.zoom.value() == 1 and [n for _, n, _ in top_rows(window)] == [2, 7]


def test_the_window_opens_where_the_grouping_stopped_and_zooms_out_past_it(qtbot, tmp_path):
    """Level 1 is a zoom-out level above the default level 0: the window opens at 0 with Zoom out enabled; zoomed
    out, it says that these joins are past where the grouping stopped; Ctrl+0 comes back."""
    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]},
                        default_level=0)
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    assert window.zoom.value() == 0 and window.zoom.maximum() == 1
    assert [n for _, n, _ in top_rows(window)] == [4, 3, 2]
    assert window.zoom_label.text().startswith("level 0 of 2: 3 groups, where the grouping stopped")
    assert window.zoom_out_action.isEnabled() and not window.zoom_in_action.isEnabled()
    assert not window.zoom_default_action.isEnabled()

    window.zoom_out_action.trigger()
    assert window.zoom.value() == 1 and [n for _, n, _ in top_rows(window)] == [7, 2]
    assert ("zoomed out 1 step past where the grouping stopped, level 0: groups it kept apart, joined where most "
            "likely one, the coarsest") in window.zoom_label.text()
    assert not window.zoom_out_action.isEnabled() and window.zoom_default_action.isEnabled()
    window.zoom_default_action.trigger()
    assert window.zoom.value() == 0 and [n for _, n, _ in top_rows(window)] == [4, 3, 2]


def test_groups_of_one_face_are_listed_only_when_asked(qtbot, tmp_path):
    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "D": 1, "E": 1}, {"A": ["A"], "D": ["D"], "E": ["E"]})
    made.org.name(f"g{made.coarse['E']}", "Eve")  # a person is always listed, one face or more
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    assert [(t, n) for t, n, _ in top_rows(window)] == [("Eve", 1), (f"unnamed group g{made.coarse['A']}", 4)]
    assert window.zoom_label.text().endswith("; 1 of one face not listed (View > Show groups of one face)")
    window.show_single_action.trigger()
    assert [n for _, n, _ in top_rows(window)] == [1, 4, 1] and "not listed" not in window.zoom_label.text()
    window.close()
    again = MainWindow(tmp_path / "lib.sqlite3")  # the choice is remembered
    qtbot.addWidget(again)
    assert again.show_single_action.isChecked() and len(top_rows(again)) == 3


def test_a_broken_library_says_so_and_keeps_the_window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    bad = tmp_path / "not-a-library.sqlite3"
    bad.write_bytes(b"this is not SQLite" * 100)
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.open_library(bad) is False
    assert shown and "not" in shown[0].lower() and window.library is None


def test_the_gui_command_opens_the_window(qtbot, tmp_path, monkeypatch):
    """`photo-grouper gui --library FILE` (and `photo-grouper` alone, given a display) shows the window."""
    from PySide6.QtWidgets import QApplication

    from photo_grouper.cli import main

    make_library(tmp_path / "lib.sqlite3", {"A": 2}, {"A": ["A"]}).library.close()
    seen = []

    def fake_exec(self=None):
        seen.extend(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        for w in seen:
            w.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # keep the default library out of the user's
    assert main(["gui", "--library", str(tmp_path / "lib.sqlite3")]) == 0
    assert seen and seen[-1].library is not None and seen[-1].model.rowCount() == 1
    assert main([]) == 0  # QT_QPA_PLATFORM is set: a display to show it on


def test_the_window_remembers_its_library_and_size(qtbot, tmp_path, private_settings):
    make_library(tmp_path / "lib.sqlite3", {"A": 2}, {"A": ["A"]}).library.close()
    first = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(first)
    first.resize(700, 500)
    first.close()
    assert any(private_settings.rglob("*.ini"))
    again = MainWindow()  # no library asked for: the last one opens
    qtbot.addWidget(again)
    assert again.library_path == tmp_path / "lib.sqlite3" and again.model.rowCount() == 1
    assert (again.width(), again.height()) == (700, 500)


def test_only_groups_on_screen_ask_for_their_thumbnails(qtbot, tmp_path):
    """A big library lists thousands of groups: the window makes the representative faces' thumbnails for the
    rows the view shows, and for the others when they are scrolled to."""
    names = [f"G{i:02d}" for i in range(60)]
    make_library(tmp_path / "lib.sqlite3", {n: 2 for n in names}, {n: [n] for n in names}).library.close()
    window = MainWindow(tmp_path / "lib.sqlite3", thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(window)
    window.resize(700, 500)
    window.show()
    qtbot.waitUntil(lambda: window.loader.requested > 0)
    on_screen = sum(window.tree.visualRect(window.model.index(r, 0)).intersects(window.tree.viewport().rect())
                    for r in range(window.model.rowCount()))
    assert window.model.rowCount() == 60 and 0 < on_screen < 30
    qtbot.wait(50)
    grid = window.faces.rowCount()  # the chosen group's faces in the grid ask for theirs too
    assert window.loader.requested <= on_screen + grid
    window.tree.scrollToBottom()
    qtbot.waitUntil(lambda: window.loader.requested > on_screen + grid)
    last = window.model.item(59, 0)
    qtbot.waitUntil(lambda: not last.icon().isNull())  # its icon: the blank one until the thumbnail fails or comes
    assert window.loader.requested <= 2 * on_screen + grid


def test_the_tree_shows_every_column_without_scrolling(qtbot, tmp_path):
    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]})
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    header = window.tree.header()
    titles = [header.model().headerData(c, Qt.Orientation.Horizontal) for c in range(header.count())]
    assert titles == ["Group", "Faces", "Confirmed", "Suggested"]
    # The names stretch into what the counts leave; the last count ends inside the pane.
    last = header.count() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= window.tree.viewport().width()
    assert not window.tree.horizontalScrollBar().isVisible()
    name = f"unnamed group g{made.coarse['AB']}"
    assert header.sectionSize(0) > header.fontMetrics().horizontalAdvance(name)
    window.zoom.setValue(0)  # a rebuilt tree keeps the layout
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= window.tree.viewport().width()


def test_opening_a_group_whose_finer_level_holds_it_whole_shows_its_faces(qtbot, tmp_path):
    from photo_grouper.gui.group_tree import FACE_ROLE

    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]})
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    rows = {ref: window.model.item(r, 0) for r, (_, _, ref) in enumerate(top_rows(window))}
    c = rows[f"g{made.coarse['C']}"]
    assert pending(c) == "groups"
    window.tree.expand(c.index())
    qtbot.waitUntil(lambda: pending(c) is None)
    # Level 0 holds C whole again: its faces, not a group "g.. (level 0)" of the same two faces.
    assert sorted(c.child(r, 0).data(FACE_ROLE) for r in range(c.rowCount())) == \
        sorted([made.faces[("C", 0)], made.faces[("C", 1)]])
    ab = rows[f"g{made.coarse['AB']}"]
    window.tree.expand(ab.index())
    qtbot.waitUntil(lambda: pending(ab) is None)
    assert ab.rowCount() == 2 and all(ab.child(r, 0).data(FACE_ROLE) is None for r in range(2))


def test_a_wide_photo_s_tree_icon_is_square_so_names_line_up(qtbot):
    from PySide6.QtGui import QColor, QPixmap

    from photo_grouper.gui.group_tree import square_icon

    wide = QPixmap(40, 20)
    wide.fill(QColor("red"))
    icon = square_icon(wide)
    assert [(s.width(), s.height()) for s in icon.availableSizes()] == [(40, 40)]
    image = icon.pixmap(40, 40).toImage()
    # The photo in the middle, transparent above and below it.
    assert image.pixelColor(20, 20) == QColor("red") and image.pixelColor(20, 5).alpha() == 0
    assert image.pixelColor(20, 35).alpha() == 0 and image.pixelColor(0, 10).alpha() == 255


def test_opening_groups_leaves_no_wrapper_of_a_deleted_item(qtbot, tmp_path):
    """Rows the tree replaces (a level by another, what an open group holds by what it holds now) let go of any Python
    wrapper still held of them: an item deleted under PySide keeps a valid wrapper, which PySide may hand out
    later for a new object at the same address. The tree's rows are made through the model, so it holds none
    itself."""
    import gc

    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QStandardItem
    from PySide6.QtWidgets import QApplication
    from shiboken6 import Shiboken

    def descendants(item):
        """Every item under ``item``, every column."""
        stack = [item]
        while stack:
            parent = stack.pop()
            for r in range(parent.rowCount()):
                for c in range(parent.columnCount()):
                    if (child := parent.child(r, c)) is not None:
                        yield child
                        stack.append(child)

    def wrappers_beyond_the_tree() -> set:
        """Where valid QStandardItem wrappers point that no item of the tree is at."""
        for _ in range(3):  # earlier tests' windows, closed, are deleted when the events get round to them
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            QApplication.processEvents()
            gc.collect()
        tree = {Shiboken.getCppPointer(i)[0] for i in descendants(window.model.invisibleRootItem())}
        return {Shiboken.getCppPointer(w)[0] for w in Shiboken.getAllValidWrappers()
                if isinstance(w, QStandardItem)} - tree

    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]})
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    before = wrappers_beyond_the_tree()
    below = []
    for row in range(window.model.rowCount()):  # AB opens to A and B; C, held whole below, to its faces
        item = window.model.item(row, 0)
        window.tree.expand(item.index())
        qtbot.waitUntil(lambda: pending(item) is None)
        assert item.rowCount() == 2
        below.append(item.child(0, 0))
    assert wrappers_beyond_the_tree() <= before
    rows = [window.model.item(r, 0) for r in range(window.model.rowCount())]
    window.zoom.setValue(0)  # another level: every row of the last one goes, and what it held
    assert window.model.rowCount() == 3 and not any(Shiboken.isValid(i) for i in [*rows, *below])
    assert wrappers_beyond_the_tree() <= before
    held = window.model.item(0, 0)
    window.close()  # the model goes with the window: nothing held of it stays valid
    assert not Shiboken.isValid(held)


def test_the_tree_after_each_correction_is_the_tree_built_anew(qtbot, tmp_path, monkeypatch):
    """The tree keeps the rows of the groups a correction left as they were and makes the rest: after each of a
    run of corrections, undos, zooms and view switches it shows what a tree built from nothing shows, row for row,
    every role, with what each row holds (its placeholder, or its finer groups where it was left open)."""
    from PySide6.QtWidgets import QMessageBox

    from shiboken6 import Shiboken

    from photo_grouper.gui.group_tree import GroupTreeModel, build_model, fill_groups

    from .tree_rows import rows

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    made = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2, "D": 1, "E": 3, "F": 1, "G": 2},
                        {"AB": ["A", "B"], "C": ["C"], "DE": ["D", "E"], "F": ["F"], "G": ["G"]})
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)

    def check():
        state, groups = window.organizer.groups(window.zoom.value(), include_hidden=window.show_hidden,
                                                min_size=1 if window.show_single else 2)
        fresh = GroupTreeModel()
        fresh.items = window.model.items
        build_model(state, groups, fresh)
        for r in range(window.model.rowCount()):  # what is left open is filled in the fresh tree too
            if window.tree.isExpanded(window.model.index(r, 0)):
                item = fresh.item(r, 0)
                if pending(item) == "groups":
                    fill_groups(fresh, item)
        assert rows(window.model, window.model.index(-1, -1)) == rows(fresh, fresh.index(-1, -1))
        return groups

    check()
    window.rename(f"g{made.fine['A']}", "Ada")
    check()
    ab = window.model.item(next(r for r in range(window.model.rowCount())
                                if window.model.item(r, 0).data(REF_ROLE) == f"g{made.coarse['AB']}"), 0)
    de = window.model.item(next(r for r in range(window.model.rowCount())
                                if window.model.item(r, 0).data(REF_ROLE) == f"g{made.coarse['DE']}"), 0)
    window.tree.expand(de.index())
    qtbot.waitUntil(lambda: pending(de) is None)
    window.apply(lambda org: org.merge([f"g{made.coarse['C']}", f"g{made.coarse['G']}"]))
    check()  # DE kept, open, its finer groups read again
    assert window.tree.isExpanded(de.index())
    window.rename(f"g{made.fine['B']}", "Bea")
    check()
    assert not Shiboken.isValid(ab)  # AB lost B: made anew
    window.apply(lambda org: org.hide("Ada"))
    check()
    window._set_show_hidden(True)
    check()
    window.apply(lambda org: org.reject("Bea", [made.faces[("B", 1)]]))
    check()
    window.undo_stack.undo()
    check()
    window.undo_stack.undo()
    check()
    window.undo_stack.redo()
    check()
    window._set_show_single(True)
    check()
    window.zoom.setValue(0)
    check()
    window.apply(lambda org: org.move([made.faces[("E", 1)]], "Bea"))  # E keeps its peak, one face fewer
    check()
    window.rename(f"g{made.fine['F']}", "Fay")
    groups = check()
    assert {"Ada", "Bea", "Fay"} <= {g.name for g in groups}


def test_a_person_left_without_faces_is_listed_with_nothing_to_open(qtbot, tmp_path):
    """A named person whose faces all went elsewhere stays listed (the name is kept for later), with no arrow that
    would open onto nothing."""
    made = make_library(tmp_path / "lib.sqlite3", {"A": 2, "B": 3}, {"A": ["A"], "B": ["B"]})
    made.org.name(f"g{made.coarse['A']}", "Ada")
    made.org.name(f"g{made.coarse['B']}", "Bea")
    made.org.move([made.faces[("A", 0)], made.faces[("A", 1)]], "Bea")
    made.library.close()
    window = MainWindow(tmp_path / "lib.sqlite3")
    qtbot.addWidget(window)
    (ada,) = [r for r, (title, _, _) in enumerate(top_rows(window)) if title == "Ada"]
    assert top_rows(window)[ada][1] == 0
    assert not window.model.hasChildren(window.model.index(ada, 0))
    assert pending(window.model.item(ada, 0)) is None
    bea = next(r for r, (title, _, _) in enumerate(top_rows(window)) if title == "Bea")
    assert window.model.hasChildren(window.model.index(bea, 0)) and pending(window.model.item(bea, 0)) == "faces"
