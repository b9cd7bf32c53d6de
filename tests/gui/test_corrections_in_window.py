"""Corrections through the widgets: rename (F2), merge (selection + Ctrl+M, or a drag with confirmation), split
(faces in the grid), reject (Delete), move (faces dragged onto a person), hide, and undo/redo with the keyboard;
all persisted at once in the library."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QItemSelectionModel, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox  # noqa: E402
from shiboken6 import Shiboken  # noqa: E402

from photo_grouper.gui.group_tree import FACE_ROLE, REF_ROLE, pending  # noqa: E402
from photo_grouper.gui.main_window import MainWindow  # noqa: E402
from photo_grouper.organize import Organizer  # noqa: E402
from photo_grouper.store import Library  # noqa: E402


@pytest.fixture
def window(qtbot, photo_library, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    photo_library.library.close()
    w = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    w.made = photo_library
    return w


def listed(window):
    m = window.model
    return [(m.item(r, 0).text(), int(m.item(r, 1).text())) for r in range(m.rowCount())]


def row_of(window, ref):
    return next(r for r in range(window.model.rowCount()) if window.model.item(r, 0).data(REF_ROLE) == ref)


def in_library(window):
    """The groups as a fresh reader of the library file sees them: what was persisted."""
    with Library(window.library_path) as lib:
        return [(g.title, g.size) for g in Organizer(lib, "faces").groups()[1]]


def select_faces(qtbot, window, rows):
    window.grid.setFocus()
    for i, row in enumerate(rows):
        index = window.faces.index(row)
        qtbot.waitUntil(lambda: window.grid.visualRect(index).isValid())
        modifier = Qt.KeyboardModifier.ControlModifier if i else Qt.KeyboardModifier.NoModifier
        qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, modifier,
                         window.grid.visualRect(index).center())
    assert len(window.grid.selected_members()) == len(rows)


def press_f2_on(qtbot, window, ref):
    """Select the group ``ref`` in the tree and press F2: the name editor it opens."""
    window.tree.setFocus()
    window.select_ref_row(row_of(window, ref))
    qtbot.keyClick(window.tree, Qt.Key.Key_F2)
    return window.tree.findChild(QLineEdit)


def test_rename_with_f2_then_undo_and_redo_with_the_keyboard(qtbot, window):
    ab = f"g{window.made.coarse['AB']}"
    editor = press_f2_on(qtbot, window, ab)
    assert editor is not None and editor.text() == ""  # an unnamed group starts from an empty name
    qtbot.keyClicks(editor, "Ada Lovelace")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("Ada Lovelace", 7) in listed(window))
    assert ("Ada Lovelace", 7) in in_library(window)
    assert window.undo_stack.undoText().startswith("named")

    qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ("Ada Lovelace", 7) not in in_library(window) and (f"unnamed group {ab}", 7) in listed(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert ("Ada Lovelace", 7) in in_library(window) and ("Ada Lovelace", 7) in listed(window)


def test_merge_selected_groups_with_ctrl_m(qtbot, window):
    window.tree.setFocus()
    window.tree.selectAll()
    qtbot.keyClick(window.tree, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert [n for _, n in listed(window)] == [9] and [n for _, n in in_library(window)] == [9]


def test_merge_by_dragging_a_group_onto_another_asks_first(qtbot, window, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    model = window.model
    source = model.index(row_of(window, f"g{window.made.coarse['C']}"), 0)
    target = model.index(row_of(window, f"g{window.made.coarse['AB']}"), 0)
    data = model.mimeData([source])
    assert model.canDropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target)
    assert not model.canDropMimeData(data, Qt.DropAction.MoveAction, 0, 0, target.parent())  # between rows
    model.dropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target)
    qtbot.waitUntil(lambda: len(asked) == 1)
    assert "Merge these groups" in asked[0] and len(listed(window)) == 2  # declined: nothing changed

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    model.dropMimeData(model.mimeData([model.index(row_of(window, f"g{window.made.coarse['C']}"), 0)]),
                       Qt.DropAction.MoveAction, -1, -1, model.index(row_of(window, f"g{window.made.coarse['AB']}"), 0))
    qtbot.waitUntil(lambda: [n for _, n in listed(window)] == [9])
    assert [n for _, n in in_library(window)] == [9]


def test_split_chosen_faces_into_a_new_group(qtbot, window):
    window.select_ref_row(row_of(window, f"g{window.made.coarse['AB']}"))
    select_faces(qtbot, window, [0, 1])
    qtbot.keyClick(window.grid, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert sorted(n for _, n in listed(window)) == [2, 2, 5]
    assert sorted(n for _, n in in_library(window)) == [2, 2, 5]


def test_split_finer_groups_chosen_in_the_tree(qtbot, window):
    ab = window.model.item(row_of(window, f"g{window.made.coarse['AB']}"), 0)
    window.tree.expand(ab.index())  # its finer groups are built when it is opened
    qtbot.waitUntil(lambda: pending(ab) is None)
    b = next(ab.child(r, 0) for r in range(ab.rowCount()) if ab.child(r, 0).data(REF_ROLE) == f"g{window.made.fine['B']}")
    window.tree.selectionModel().select(b.index(), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                        | QItemSelectionModel.SelectionFlag.Rows)
    window.grid.clearSelection()
    window.split_action.trigger()
    assert sorted(n for _, n in listed(window)) == [2, 3, 4]


def test_reject_with_delete_keeps_the_rest_together(qtbot, window):
    window.select_ref_row(row_of(window, f"g{window.made.coarse['AB']}"))
    select_faces(qtbot, window, [6])
    rejected = window.grid.selected_members()[0].detection_id
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    sizes = sorted(n for _, n in in_library(window))
    assert sizes == [1, 2, 6], sizes  # the rest became a person; the rejected face went back to its group
    with Library(window.library_path) as lib:
        person = next(g for g in Organizer(lib, "faces").people() if g.size == 6)
        assert rejected not in [m.detection_id for m in Organizer(lib, "faces").show(person.ref)[1]]
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(n for _, n in in_library(window)) == [2, 7]


def test_move_faces_by_dropping_them_on_a_person(qtbot, window):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    window.select_ref_row(row_of(window, f"g{window.made.coarse['AB']}"))
    select_faces(qtbot, window, [0])
    data = window.faces.mimeData(window.grid.selectedIndexes())
    target = window.model.index(row_of(window, next(window.model.item(r, 0).data(REF_ROLE)
                                                   for r in range(window.model.rowCount())
                                                   if window.model.item(r, 0).text() == "Cleo")), 0)
    assert window.model.dropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target) is False  # rebuilt, not inserted
    qtbot.waitUntil(lambda: ("Cleo", 3) in listed(window))
    assert ("Cleo", 3) in in_library(window)


def test_hide_and_show_hidden_groups(qtbot, window):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    window.select_ref_row(row_of(window, next(window.model.item(r, 0).data(REF_ROLE)
                                              for r in range(window.model.rowCount())
                                              if window.model.item(r, 0).text() == "Cleo")))
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert [t for t, _ in listed(window)] == [f"unnamed group g{window.made.coarse['AB']}"]
    window.show_hidden_action.trigger()
    assert ("Cleo (hidden)", 2) in listed(window)
    window.close()
    again = MainWindow(window.library_path, thumbnail_dir=window.thumbnails.folder)
    qtbot.addWidget(again)
    assert again.show_hidden_action.isChecked() and ("Cleo (hidden)", 2) in listed(again)


def test_a_refused_correction_says_why_and_changes_nothing(qtbot, window, monkeypatch):
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    window.select_ref_row(row_of(window, f"g{window.made.coarse['C']}"))
    select_faces(qtbot, window, [0, 1])
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)  # rejecting every face of an automatic group
    assert warned and "every face" in warned[0]
    assert sorted(n for _, n in in_library(window)) == [2, 7] and window.undo_stack.count() == 0


def test_undo_reaches_corrections_of_an_earlier_session(qtbot, window):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    window.merge_dropped([f"g{window.made.coarse['AB']}"], next(
        window.model.item(r, 0).data(REF_ROLE) for r in range(window.model.rowCount())
        if window.model.item(r, 0).text() == "Cleo"))
    window.undo_stack.undo()  # the merge undone; the rename stays
    window.close()
    again = MainWindow(window.library_path, thumbnail_dir=window.thumbnails.folder)
    qtbot.addWidget(again)
    assert again.undo_stack.count() == 2 and again.undo_stack.index() == 1
    assert again.undo_stack.undoText().startswith("named") and again.undo_stack.redoText().startswith("merged")
    again.undo_stack.redo()
    assert [n for _, n in in_library(again)] == [9]
    again.undo_stack.undo()
    again.undo_stack.undo()
    assert sorted(in_library(again)) == sorted([(f"unnamed group g{window.made.coarse['AB']}", 7),
                                                (f"unnamed group g{window.made.coarse['C']}", 2)])
    QApplication.processEvents()


def test_typing_a_name_survives_the_row_changing_meanwhile(qtbot, window):
    """A thumbnail arriving for the row being renamed must not wipe what is typed."""
    ab = f"g{window.made.coarse['AB']}"
    editor = press_f2_on(qtbot, window, ab)
    qtbot.keyClicks(editor, "Grace")
    item = window.model.item(row_of(window, ab), 0)
    item.setIcon(window._blank_icon)  # what an arriving thumbnail does to the row
    item.setToolTip("changed")
    assert editor.text() == "Grace"
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("Grace", 7) in listed(window))


def test_double_click_on_a_group_renames_it(qtbot, window):
    index = window.model.index(row_of(window, f"g{window.made.coarse['C']}"), 0)
    rect = window.tree.visualRect(index)
    qtbot.mouseClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = window.tree.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    qtbot.keyClicks(editor, "Cleo")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("Cleo", 2) in listed(window))


def test_context_menus_offer_the_corrections(qtbot, window):
    def entries(menu):
        out = {a.text(): a for a in menu.actions()}
        out.update({f"{a.text()} > {s.text()}": s for a in menu.actions() if a.menu() for s in a.menu().actions()})
        return out

    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    tree = entries(window.tree_menu())
    assert {"&Rename…", "&Merge selected groups", "&Split off as a new group", "&Hide or show group"} <= set(tree)

    window.select_ref_row(row_of(window, f"g{window.made.coarse['AB']}"))
    select_faces(qtbot, window, [0])
    grid = entries(window.grid_menu())
    assert {"Open photo", "Re&ject faces (not this person)", "Not a &face", "Move to > Cleo"} <= set(grid)
    grid["Move to > Cleo"].trigger()
    assert ("Cleo", 3) in in_library(window)


def test_ctrl_h_on_a_hidden_group_shows_it_again(qtbot, window):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    window.show_hidden_action.trigger()
    cleo = next(r for r in range(window.model.rowCount()) if window.model.item(r, 0).text() == "Cleo")
    window.select_ref_row(cleo)
    window.hide_action.trigger()
    assert ("Cleo (hidden)", 2) in listed(window)
    window.select_ref_row(next(r for r in range(window.model.rowCount())
                               if window.model.item(r, 0).text() == "Cleo (hidden)"))
    window.hide_action.trigger()
    assert ("Cleo", 2) in listed(window) and ("Cleo", 2) in in_library(window)


def test_boxes_the_face_check_turned_down_are_listed_and_can_be_brought_back(qtbot, photo_library, tmp_path):
    from sqlalchemy import select, update

    from photo_grouper.store import Detection

    with photo_library.library.session() as s:  # the check's verdict on two of the faces
        turned_down = s.scalars(select(Detection.id).order_by(Detection.id).limit(2)).all()
        s.execute(update(Detection).where(Detection.id.in_(turned_down)).values(verified=False))
    photo_library.library.close()
    w = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(w)
    dialog = w.show_not_faces()
    qtbot.addWidget(dialog)
    assert [m.detection_id for m in dialog.faces.members] == turned_down
    assert dialog.title.text().startswith("2 box(es)") and not dialog.restore_button.isEnabled()
    dialog.grid.selectionModel().select(dialog.faces.index(0), QItemSelectionModel.SelectionFlag.Select)
    assert dialog.restore_button.isEnabled()
    dialog.restore_button.click()
    assert [m.detection_id for m in dialog.faces.members] == turned_down[1:]
    assert "the face check had turned down" in w.statusBar().currentMessage()
    with Library(w.library_path) as lib, lib.session() as s:
        assert s.get(Detection, turned_down[0]).verified is True
    w.undo_stack.undo()  # Edit > Undo: the check's verdict again
    dialog.reload()
    assert [m.detection_id for m in dialog.faces.members] == turned_down
    viewer = w.open_photo(dialog.faces.index(1), dialog.faces)
    assert viewer is not None and viewer.canvas.box == dialog.faces.members[1].box
    viewer.close()


def test_confirm_suggested_faces_chosen_or_all_with_ctrl_return(qtbot, window):
    from photo_grouper.organize import suggest

    bea = window.rename(f"g{window.made.fine['B']}", "Bea").people[0]
    with Library(window.library_path) as lib:
        assert suggest(lib, "faces") == 4  # A's faces share Bea's level-1 group
    window.refresh()
    window.select_ref_row(row_of(window, f"p{bea}"))
    qtbot.waitUntil(lambda: window.confirm_action.isEnabled())
    rows = [r for r, m in enumerate(window.faces.members) if m.status == "suggested"]
    assert len(rows) == 4 and "&Confirm suggested faces (yes, this person)" in \
        {a.text() for a in window.grid_menu().actions()}

    def counts():
        with Library(window.library_path) as lib:
            info = Organizer(lib, "faces").show("Bea")[0]
            return info.confirmed, info.suggested

    select_faces(qtbot, window, [rows[0]])
    qtbot.keyClick(window.grid, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert counts() == (4, 3)  # only the chosen one
    window.grid.clearSelection()
    window.confirm_action.trigger()
    assert counts() == (7, 0)  # nothing chosen: all of them
    assert not window.confirm_action.isEnabled()
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert counts() == (4, 3)


def test_find_a_name_shows_only_the_groups_whose_name_holds_it(qtbot, window):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")

    def shown():
        return [window.model.item(r, 0).text() for r in range(window.model.rowCount())
                if not window.tree.isRowHidden(r, window.model.invisibleRootItem().index())]

    assert len(shown()) == 2
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.find.hasFocus()
    qtbot.keyClicks(window.find, "cLE")
    qtbot.waitUntil(lambda: shown() == ["Cleo"])
    assert window.current_ref() == window.model.item(row_of_name(window, "Cleo"), 0).data(REF_ROLE)
    window.refresh()  # a correction rebuilds the tree: the find still holds
    assert shown() == ["Cleo"]
    window.find.setText("nobody")
    qtbot.waitUntil(lambda: shown() == [])
    assert window.grid_title.text() == "No listed group's name holds 'nobody'" and window.faces.rowCount() == 0
    window.find.clear()
    qtbot.waitUntil(lambda: len(shown()) == 2)
    assert window.current_ref() is not None


def row_of_name(window, name):
    return next(r for r in range(window.model.rowCount()) if window.model.item(r, 0).text() == name)


def test_coming_back_to_the_window_after_a_change_elsewhere_lists_the_groups_again(window, qtbot, capsys):
    from PySide6.QtCore import QEvent

    from photo_grouper.cli import main

    c = f"g{window.made.coarse['C']}"
    before = listed(window)
    # From a terminal while the window is open: a correction the window has not seen.
    assert main(["group", "name", c, "Cleo", "--library", str(window.library_path)]) == 0
    assert listed(window) == before
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))  # the user clicks back into the window
    assert ("Cleo", 2) in listed(window) and listed(window) != before
    assert "changed outside this window" in window.statusBar().currentMessage()
    assert window.undo_stack.undoText().startswith("named") and "Cleo" in window.undo_stack.undoText()
    # Undone from the window, as its own corrections are.
    window.undo_stack.undo()
    assert listed(window) == before == in_library(window)
    # Nothing changed since: coming back again lists nothing anew.
    window.statusBar().clearMessage()
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))
    assert window.statusBar().currentMessage() == ""


def test_a_name_someone_already_has_asks_whether_it_is_the_same_person(window, monkeypatch):
    """Naming a group with a name another person has joins the group to them: the window asks first (a typo or a
    namesake would merge two people), and No changes nothing."""
    asked = []
    answer = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answer)
    c, ab = f"g{window.made.coarse['C']}", f"g{window.made.coarse['AB']}"
    window.rename(c, "Cleo")
    assert asked == []  # a new name: nothing to ask
    before = listed(window)
    assert window.rename(ab, " cleo ") is None
    assert asked == [f"Cleo is already a person (2 faces). Is unnamed group {ab} (7 faces) the same person? Its "
                     "faces will be Cleo's."]
    assert listed(window) == before == in_library(window)
    answer = QMessageBox.StandardButton.Yes
    assert window.rename(ab, "cleo") is not None
    assert listed(window) == [("Cleo", 9)]
    window.rename("Cleo", "CLEO")  # the person's own name, written otherwise: nothing to ask
    assert len(asked) == 2 and listed(window) == [("CLEO", 9)]


def test_a_grouping_made_elsewhere_with_other_levels_is_shown_where_it_stopped(window, qtbot, monkeypatch):
    """An index from a terminal groups the library again while the window shows level 1 of 2, and the new grouping
    has one level: coming back to the window shows that level (not an error that level 1 does not exist). Grouped
    again into two levels, a correction made in the window before it was looked at again shows the new levels."""
    from PySide6.QtCore import QEvent

    from photo_grouper.store import Cluster, ClusterMember, ClusterRun

    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: pytest.fail(a[2]))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(a[2]))
    assert window.zoom.value() == 1 and "level 1 of 2" in window.zoom_label.text()

    def group_again(coarse: list[str], levels: int) -> dict:
        """Each letter a finest group; with two levels, each string of ``coarse`` joins its letters above."""
        faces = window.made.faces
        made = {}
        with Library(window.library_path) as lib, lib.session() as s:
            run = ClusterRun(mode="faces", model="test", weights="test", tau=0.8, items=len(faces), levels=levels)
            s.add(run)
            s.flush()
            for letters in coarse:
                members = [d for (letter, _), d in faces.items() if letter in letters]
                top = None
                if levels == 2:
                    top = Cluster(run_id=run.id, level=1, size=len(members), peak_detection_id=members[0])
                    s.add(top)
                    s.flush()
                    made[letters] = top.id
                for letter in letters:
                    mine = [d for (x, _), d in faces.items() if x == letter]
                    c = Cluster(run_id=run.id, level=0, size=len(mine), peak_detection_id=mine[0],
                                parent_id=top.id if top else None)
                    s.add(c)
                    s.flush()
                    made.setdefault(letter, c.id)
                    s.add_all(ClusterMember(detection_id=d, run_id=run.id, cluster_id=c.id) for d in mine)
        return made

    group_again(["A", "B", "C"], levels=1)
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))  # the user clicks back into the window
    assert "level 0 of 1" in window.zoom_label.text() and window.zoom.maximum() == 0
    assert sorted(n for _, n in listed(window)) == [2, 3, 4]
    made = group_again(["AB", "C"], levels=2)
    window.apply(lambda org: org.name(f"g{made['C']}", "Cleo"))
    assert "level 1 of 2" in window.zoom_label.text() and window.zoom.maximum() == 1
    assert listed(window) == [("Cleo", 2), (f"unnamed group g{made['AB']}", 7)]


def test_a_correction_keeps_the_rows_it_left_as_they_were(qtbot, window, monkeypatch):
    """Building every row again after each correction took most of a second at a million faces: the rows of the
    groups a correction did not change stay (an open one stays open, with what it holds read again), the others
    are made anew, in the list's order."""
    made = window.made
    ab_ref, c_ref = f"g{made.coarse['AB']}", f"g{made.coarse['C']}"
    ab = window.model.item(row_of(window, ab_ref), 0)
    window.tree.expand(ab.index())
    qtbot.waitUntil(lambda: pending(ab) is None)
    before = ab.child(0, 0)
    c = window.model.item(row_of(window, c_ref), 0)
    window.select_ref_row(row_of(window, c_ref))
    window.rename(c_ref, "Cleo")
    assert listed(window) == [("Cleo", 2), (f"unnamed group {ab_ref}", 7)]
    assert window.model.item(1, 0) is ab and not Shiboken.isValid(c)  # kept; made anew as Cleo's
    assert window.tree.isExpanded(ab.index()) and not Shiboken.isValid(before)  # open, filled again
    assert sorted(ab.child(r, 0).data(REF_ROLE) for r in range(ab.rowCount())) == \
        sorted([f"g{made.fine['A']}", f"g{made.fine['B']}"])
    assert window.current_ref() == window.model.item(0, 0).data(REF_ROLE) and \
        window.grid_title.text().startswith("Cleo: 2")
    # The chosen row kept as it was: the grid still shows it, read again.
    cleo, shown, show = window.model.item(0, 0), [], window.organizer.show
    monkeypatch.setattr(window.organizer, "show", lambda ref, *a: shown.append(ref) or show(ref, *a))
    window.rename(f"g{made.fine['B']}", "Bea")
    assert listed(window) == [("Bea", 3), ("Cleo", 2), (f"unnamed group {ab_ref}", 4)]
    assert window.model.item(1, 0) is cleo and not Shiboken.isValid(ab)
    assert window.current_ref() == cleo.data(REF_ROLE) and window.grid_title.text().startswith("Cleo: 2")
    assert len(window.faces.members) == 2 and shown == [cleo.data(REF_ROLE)]
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert listed(window) == [(f"unnamed group {ab_ref}", 7), (f"unnamed group {c_ref}", 2)]


def test_only_listed_groups_are_dragged_dropped_on_and_renamed_in_place(qtbot, window):
    """The rows are made through the model, their flags given by what they are: a listed group is dragged and
    dropped on (any column) and its name edited (the first); a finer group or a face inside is only chosen."""
    flag = Qt.ItemFlag
    model = window.model
    ab = model.item(row_of(window, f"g{window.made.coarse['AB']}"), 0)
    window.tree.expand(ab.index())
    qtbot.waitUntil(lambda: pending(ab) is None)
    listed_name, listed_count = model.flags(ab.index()), model.flags(ab.index().siblingAtColumn(1))
    finer = model.flags(model.index(0, 0, ab.index()))
    assert listed_name & flag.ItemIsEditable and listed_name & flag.ItemIsDragEnabled
    assert listed_count & flag.ItemIsDropEnabled and not listed_count & flag.ItemIsEditable
    assert finer & flag.ItemIsSelectable and not finer & (flag.ItemIsEditable | flag.ItemIsDragEnabled |
                                                          flag.ItemIsDropEnabled)
    # A face at the leaves: only chosen, and the view need not ask whether it holds rows (every cell of it).
    group = ab.child(0, 0)
    while group.data(FACE_ROLE) is None:
        window.tree.expand(group.index())
        qtbot.waitUntil(lambda: pending(group) is None)
        group = group.child(0, 0)
    face_row = [group.index().siblingAtColumn(c) for c in range(model.columnCount(group.index().parent()))]
    assert face_row and all(model.flags(i) == flag.ItemIsSelectable | flag.ItemIsEnabled |
                            flag.ItemNeverHasChildren for i in face_row)
