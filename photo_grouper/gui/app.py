"""`photo-grouper gui`: the window."""

from __future__ import annotations

import sys
from pathlib import Path


def run(library: Path | None = None, mode: str = "faces") -> int:
    from PySide6.QtWidgets import QApplication

    from ..store import default_library_path
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("photo-grouper")
    path = library or default_library_path()
    window = MainWindow(path if path.exists() else None, mode)
    window.show()
    return app.exec()
