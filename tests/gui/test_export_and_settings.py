"""Export from the window (dialog, background job, albums and XMP on disk), the mode and folder settings, and
clear dialogs for a folder that is not there."""

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox  # noqa: E402

from photo_grouper.gui.export_dialog import ExportDialog  # noqa: E402
from photo_grouper.gui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def window(qtbot, photo_library, tmp_path):
    photo_library.library.close()
    w = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(w)
    w.show()
    w.made = photo_library
    return w


def test_export_dialog_runs_the_export_in_the_background(qtbot, window, tmp_path, monkeypatch):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    window.rename(f"g{window.made.coarse['AB']}", "Abe")
    chosen = {}

    def fill_in(dialog):
        assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()  # no destination yet
        dialog.destination.setText(str(tmp_path / "albums"))
        dialog.people.item(0).setCheckState(Qt.CheckState.Unchecked)  # Abe (sorted first): not this time
        dialog.xmp.setChecked(True)
        chosen.update(dialog.options())
        return 1

    monkeypatch.setattr(ExportDialog, "exec", fill_in)
    window.choose_export()
    assert chosen == {"people": ["Cleo"], "link": "copy", "xmp": True, "include_suggested": False,
                      "include_groups": False}
    job = window.job
    assert job is not None and window.progress_bar.isVisible() and not window.export_action.isEnabled()
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert len(list((tmp_path / "albums" / "Cleo").glob("*.jpg"))) == 2
    # Sidecars go beside the originals, where photo apps reading the library look for them.
    sidecars = sorted(p.name for p in (tmp_path / "photos").glob("*.xmp"))
    assert len(sidecars) == 2 and all(name.startswith("C") for name in sidecars)
    assert "Cleo" in (tmp_path / "photos" / sidecars[0]).read_text()
    assert not (tmp_path / "albums" / "Abe").exists()
    assert "Exported 1 album(s): 2 photo(s) written" in window.statusBar().currentMessage()
    assert window.job is None and window.export_action.isEnabled()
    assert QSettings().value("export/destination") == str(tmp_path / "albums")


def test_export_dialog_in_species_mode_speaks_of_species(qtbot):
    from PySide6.QtWidgets import QFormLayout

    from photo_grouper.organize.words import WORDS

    dialog = ExportDialog([], "", None, WORDS["species"])
    qtbot.addWidget(dialog)
    label = dialog.layout().itemAt(1, QFormLayout.ItemRole.LabelRole).widget().text()
    assert label == "Species" and dialog.xmp.text() == "Write XMP sidecars with the species' names as keywords"
    assert "person" not in dialog.suggested.text() + dialog.destination.placeholderText()


def test_export_to_a_place_that_cannot_be_made_says_so(qtbot, window, tmp_path, monkeypatch):
    window.rename(f"g{window.made.coarse['C']}", "Cleo")
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    (tmp_path / "file").write_text("a file, not a folder")
    job = window.start_export(tmp_path / "file" / "albums", {"people": None, "link": "copy", "xmp": False})
    with qtbot.waitSignal(job.failed, timeout=60_000):
        pass
    assert shown and "cannot create" in shown[0] and window.job is None


def test_the_mode_is_a_setting_and_switches_the_groups(qtbot, window, tmp_path):
    assert window.mode == "faces" and window.model.rowCount() == 2
    window.mode_actions["species"].trigger()
    assert window.mode == "species" and window.model.rowCount() == 0  # no species grouping in this library
    # Not "index a photo folder": the library holds groups, of the other mode.
    assert window.grid_title.text() == "No species groups in this library; it holds faces groups (View > Faces mode)"
    # Species mode groups photos of animals: the window says so, and the face check's actions are gone.
    assert window.reject_action.text() == "Re&ject photos (not this species)"
    assert window.show_single_action.text() == "Show groups of one photo"
    assert window.model.headerData(1, Qt.Orientation.Horizontal) == "Photos"
    assert window.rename_delegate.who == "species" and window.faces.unit == "photo"
    assert not window.not_a_face_action.isVisible() and not window.not_faces_action.isVisible()
    window.close()
    again = MainWindow(window.library_path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(again)
    assert again.mode == "species" and again.mode_actions["species"].isChecked()
    again.set_mode("faces")
    assert again.model.rowCount() == 2
    assert again.reject_action.text() == "Re&ject faces (not this person)" and again.not_a_face_action.isVisible()
    assert again.model.headerData(1, Qt.Orientation.Horizontal) == "Faces"


def test_a_library_never_grouped_says_to_index(qtbot, tmp_path):
    from photo_grouper.store import Library

    Library(tmp_path / "new.sqlite3").close()
    window = MainWindow(tmp_path / "new.sqlite3", thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(window)
    assert window.library is not None and window.model.rowCount() == 0
    assert window.grid_title.text() == "No groups yet: index a photo folder (File > Index)"
    # Photos indexed in which no face was found (a folder of landscapes): indexing again would not help.
    from photo_grouper.store import Analysis, Photo

    with Library(tmp_path / "new.sqlite3") as lib, lib.session() as s:
        photo = Photo(path="/p/sea.jpg", size=1, mtime_ns=1, content_hash="h")
        s.add(Analysis(photo=photo, pipeline="faces:x", status="done", found=0))
    window.refresh()
    assert window.grid_title.text() == "No groups: no faces were found in the 1 photo(s) indexed in faces mode"


def test_indexing_a_missing_folder_says_so_and_starts_nothing(qtbot, window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    assert window.start_index(tmp_path / "no such folder") is None
    assert shown and "folder not found" in shown[0] and window.job is None


def test_the_library_file_gone_missing_is_a_dialog_not_a_crash(qtbot, photo_library, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    photo_library.library.close()
    moved = tmp_path / "moved.sqlite3"
    shutil.move(photo_library.library.path, moved)
    window = MainWindow(None)
    qtbot.addWidget(window)
    assert window.open_library(photo_library.library.path) is False
    assert shown and "no library" in shown[0] and window.library is None


def test_a_locked_library_says_so_and_changes_nothing(qtbot, window, monkeypatch):
    """Another program holding the library's write lock: the correction is refused with a dialog that says so
    (after SQLite's busy timeout), and nothing was half done."""
    import sqlite3

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    other = sqlite3.connect(window.library_path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert window.rename(f"g{window.made.coarse['C']}", "Cleo") is None
    finally:
        other.rollback()
        other.close()
    assert warned and "locked" in warned[0]
    assert window.undo_stack.count() == 0 and "Cleo" not in [window.model.item(r, 0).text()
                                                             for r in range(window.model.rowCount())]
    assert window.rename(f"g{window.made.coarse['C']}", "Cleo") is not None  # free again: it works
