"""View > Boxes the face check turned down: the boxes the detector found but dlib's CNN did not take for faces
(jobs.check_faces), which are in no group. Choosing some and "They are faces" overrules the check (an undoable
correction, through the window); the next index groups them."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout

from .face_grid import FaceGrid, FaceListModel, ThumbnailLoader


class NotFacesDialog(QDialog):
    def __init__(self, window, loader: ThumbnailLoader):
        super().__init__(window)
        self.window_ = window  # the main window: its organizer and its undo stack (``apply``)
        self.setWindowTitle("Boxes the face check turned down")
        self.faces = FaceListModel(loader, self)
        self.grid = FaceGrid(self.faces, window.grid.side())
        self.grid.doubleClicked.connect(lambda index: window.open_photo(index, self.faces))
        self.title = QLabel()
        self.title.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.restore_button = QPushButton("They are faces")
        self.restore_button.setToolTip("Overrule the check for the chosen boxes: the next index groups them")
        self.restore_button.clicked.connect(self.restore_selected)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.grid, 1)
        layout.addWidget(buttons)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.resize(720, 480)
        self.reload()

    def reload(self) -> None:
        boxes = self.window_.organizer.not_faces() if self.window_.organizer else []
        self.faces.set_members(None, boxes)
        self.title.setText(
            f"{len(boxes)} box(es) the detector found but the face check did not take for faces; they are in no "
            "group. Choose the ones that are faces and press \"They are faces\"." if boxes
            else "The face check has turned nothing down in this library.")
        self._selection_changed()

    def _selection_changed(self, *_) -> None:
        self.restore_button.setEnabled(bool(self.grid.selectedIndexes()))

    def restore_selected(self) -> None:
        chosen = [m.detection_id for m in self.grid.selected_members()]
        if chosen and self.window_.apply(lambda org: org.ignore(chosen, None), "Cannot bring them back"):
            self.reload()
