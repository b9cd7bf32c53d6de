"""The main window: the group tree with a zoom over the hierarchy's levels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QStandardItemModel
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..organize import Organizer
from ..store import Library, LibraryError
from .group_tree import build_model


class MainWindow(QMainWindow):
    def __init__(self, library_path: Path | None = None, mode: str = "faces"):
        super().__init__()
        self.setWindowTitle("photo-grouper")
        self.mode = mode
        self.library: Library | None = None
        self.organizer: Organizer | None = None
        self.model = QStandardItemModel(self)

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setToolTip("Zoom: left shows the finest groups, right the coarsest (Ctrl+= / Ctrl+-)")
        self.zoom.valueChanged.connect(self.refresh)
        self.zoom_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(QLabel("Finer"))
        row.addWidget(self.zoom, 1)
        row.addWidget(QLabel("Coarser"))
        row.addWidget(self.zoom_label)
        body = QVBoxLayout()
        body.addLayout(row)
        body.addWidget(self.tree, 1)
        central = QWidget()
        central.setLayout(body)
        self.setCentralWidget(central)
        menu = self.menuBar().addMenu("&File")
        menu.addAction("Open library…", QKeySequence.StandardKey.Open, self.choose_library)
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        # Zooming in splits groups (a finer level), zooming out merges them along the hierarchy.
        self.zoom_in_action = zoom_in = view.addAction("Zoom in: finer groups", lambda: self.zoom.setValue(self.zoom.value() - 1))
        zoom_in.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_out_action = zoom_out = view.addAction("Zoom out: coarser groups", lambda: self.zoom.setValue(self.zoom.value() + 1))
        zoom_out.setShortcuts([QKeySequence("Ctrl+-")])
        self.resize(900, 650)
        if library_path is not None:
            self.open_library(library_path)

    def choose_library(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open library", "", "photo-grouper library (*.sqlite3)")
        if path:
            self.open_library(Path(path))

    def open_library(self, path: Path) -> bool:
        try:
            library = Library(path, create=False)
        except LibraryError as exc:
            QMessageBox.critical(self, "Cannot open the library", str(exc))
            return False
        if self.library is not None:
            self.library.close()
        self.library, self.organizer = library, Organizer(library, self.mode)
        state, _ = self.organizer.groups()
        levels = max(state.levels, 1)
        self.zoom.blockSignals(True)
        self.zoom.setRange(0, levels - 1)
        self.zoom.setValue(levels - 1)  # the level where the hierarchy stopped: the default view
        self.zoom.blockSignals(False)
        self.refresh()
        self.statusBar().showMessage(f"{path}")
        return True

    def refresh(self) -> None:
        if self.organizer is None:
            return
        state, groups = self.organizer.groups(self.zoom.value())
        build_model(state, groups, self.model)
        self.zoom_label.setText(f"level {state.level} of {state.levels}: {len(groups)} groups")
        self.tree.resizeColumnToContents(0)

    def closeEvent(self, event) -> None:
        if self.library is not None:
            self.library.close()
        super().closeEvent(event)

