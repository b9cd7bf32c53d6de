"""The main window: the group tree with a zoom over the hierarchy's levels."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence, QStandardItemModel
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..organize import Organizer
from ..store import Library, LibraryError, default_library_path
from .group_tree import build_model
from .workers import IndexJob


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
        self.index_action = menu.addAction("Index a photo folder…", QKeySequence("Ctrl+I"), self.choose_folder)
        menu.addAction("Open library…", QKeySequence.StandardKey.Open, self.choose_library)
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        # Zooming in splits groups (a finer level), zooming out merges them along the hierarchy.
        self.zoom_in_action = zoom_in = view.addAction("Zoom in: finer groups", lambda: self.zoom.setValue(self.zoom.value() - 1))
        zoom_in.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_out_action = zoom_out = view.addAction("Zoom out: coarser groups", lambda: self.zoom.setValue(self.zoom.value() + 1))
        zoom_out.setShortcuts([QKeySequence("Ctrl+-")])
        # Progress of a running job, in the status bar: bar, what/rate/ETA, Cancel.
        self.job: IndexJob | None = None
        self.progress_bar = QProgressBar()
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_job)
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            self.statusBar().addPermanentWidget(w)
            w.hide()
        self._stage = ("", 0.0, 0)

        self.resize(900, 650)
        self.settings = QSettings()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if library_path is None and self.settings.value("library"):
            remembered = Path(str(self.settings.value("library")))
            library_path = remembered if remembered.is_file() else None
        self.library_path = library_path
        if library_path is not None:
            self.open_library(library_path)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Index a photo folder")
        if folder:
            self.start_index(Path(folder))

    def start_index(self, folder: Path, workers: int | None = None) -> IndexJob | None:
        """Scan, detect, embed and group ``folder`` in a job process; progress shows in the status bar."""
        if self.job is not None:
            QMessageBox.information(self, "Busy", "An index job is running; cancel it or wait for it to end.")
            return None
        path = self.library_path or default_library_path()
        self.job = IndexJob(path, folder, self.mode, workers, parent=self)
        self.job.progress.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            w.show()
        self.cancel_button.setEnabled(True)
        self.index_action.setEnabled(False)
        self.progress_text.setText(f"indexing {folder}…")
        self.job.start()
        return self.job

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_text.setText("stopping after the photos in hand…")

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage[0]:
            self._stage = (stage, now, done)
        _, since, first = self._stage
        rate = (done - first) / (now - since) if now > since and done > first else 0.0
        eta = f", {((total - done) / rate):.0f} s left" if rate > 0 and total > done else ""
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_text.setText(f"{stage}: {done}/{total}" + (f", {rate:.1f}/s" if rate else "") + eta)

    def _job_ended(self) -> None:
        self.job = None
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            w.hide()
        self.index_action.setEnabled(True)

    def _on_finished(self, report) -> None:
        self._job_ended()
        self.library_path = self.library_path or default_library_path()
        self.open_library(self.library_path)
        an = report.analyse
        if report.status == "cancelled":
            self.statusBar().showMessage("Cancelled: everything done so far is saved; index again to resume")
        else:
            self.statusBar().showMessage(f"Indexed {report.root}: {an.found} found in {report.seconds:.0f} s")

    def _on_failed(self, message: str) -> None:
        self._job_ended()
        QMessageBox.critical(self, "Indexing failed", message)

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
        self.library_path = Path(path)
        self.settings.setValue("library", str(self.library_path))
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
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()
        if self.job is not None:
            self.job.cancel()
            self.job.wait(30)
        if self.library is not None:
            self.library.close()
        super().closeEvent(event)

