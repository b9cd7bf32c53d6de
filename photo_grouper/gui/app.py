"""`photo-grouper gui`: the window."""

from __future__ import annotations

import sys
from pathlib import Path


def run(library: Path | None = None, mode: str | None = None) -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ..store import default_library_path
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("photo-grouper")
    app.setOrganizationName("photo-grouper")
    # No --library: the library used last time (remembered by the window), else the default one if it exists.
    path = library or (None if QSettings().value("library") else default_library_path())
    window = MainWindow(path if path is None or path.exists() else None, mode)
    window.show()
    return app.exec()
