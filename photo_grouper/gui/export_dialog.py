"""File > Export albums: where, whom, how (copy, hard link, symbolic link) and whether to write XMP sidecars.
The export itself runs as a job (workers.ExportJob); this dialog only gathers the choices."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from ..organize.view import GroupInfo
from ..organize.words import WORDS, Words

LINK_LABELS = {"copy": "Copy the photos", "hardlink": "Hard links (no extra space, same disk)",
               "symlink": "Symbolic links"}


class ExportDialog(QDialog):
    def __init__(self, people: list[GroupInfo], destination: str = "", parent: QWidget | None = None,
                 words: Words = WORDS["faces"]):
        super().__init__(parent)
        faces, who = words == WORDS["faces"], words.who  # species mode: whole photos, named by species
        self.setWindowTitle("Export albums")
        self.destination = QLineEdit(destination)
        self.destination.setPlaceholderText(f"a folder: one album folder per {who} goes inside")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.destination, 1)
        where.addWidget(browse)

        self.people = QListWidget()
        for p in people:
            if not p.name:
                continue
            item = QListWidgetItem(f"{p.name} ({p.size})")
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.people.addItem(item)
        self.link = QComboBox()
        for key, label in LINK_LABELS.items():
            self.link.addItem(label, key)
        self.xmp = QCheckBox("Write XMP sidecars with the people's names and face regions" if faces
                             else "Write XMP sidecars with the species' names as keywords")
        self.suggested = QCheckBox(f"Include photos only suggested for a {who}")
        self.groups = QCheckBox("Also export unnamed groups")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.destination.textChanged.connect(self._update_ok)
        self.people.itemChanged.connect(self._update_ok)
        self.groups.toggled.connect(self._update_ok)

        form = QFormLayout(self)
        form.addRow("Destination", where)
        form.addRow(words.whom.capitalize(), self.people)
        form.addRow("Files", self.link)
        form.addRow("", self.xmp)
        form.addRow("", self.suggested)
        form.addRow("", self.groups)
        form.addRow(self.buttons)
        self._update_ok()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export albums to", self.destination.text())
        if folder:
            self.destination.setText(folder)

    def _update_ok(self) -> None:
        anyone = bool(self.chosen_people()) or self.groups.isChecked()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            bool(self.destination.text().strip()) and anyone)

    def chosen_people(self) -> list[str]:
        items = [self.people.item(i) for i in range(self.people.count())]
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def options(self) -> dict:
        """export_albums' keyword arguments (all named people when every box is ticked)."""
        people = self.chosen_people()
        return {"people": None if len(people) == self.people.count() else people, "link": self.link.currentData(),
                "xmp": self.xmp.isChecked(), "include_suggested": self.suggested.isChecked(),
                "include_groups": self.groups.isChecked()}

    def destination_path(self) -> Path:
        return Path(self.destination.text().strip()).expanduser()
