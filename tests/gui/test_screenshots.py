"""The README's screenshots come from photo_grouper.gui.screenshots: each main state is saved as a real picture."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402

from photo_grouper.gui import screenshots  # noqa: E402
from photo_grouper.gui.main_window import MainWindow  # noqa: E402


def test_screenshots_of_the_main_states(qtbot, qapp, photo_library, tmp_path):
    photo_library.org.name(f"g{photo_library.coarse['C']}", "Cleo")
    photo_library.library.close()
    window = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(window)
    saved = screenshots.take(qapp, window, tmp_path / "shots")
    assert [p.name for p in saved] == ["window.png", "tree.png", "photo.png", "export.png"]
    for path in saved:
        image = QImage(str(path))
        assert image.width() > 300 and image.height() > 200, path
        # Not a blank grab: many distinct colours (photos, text, widgets).
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 50, (path, len(colours))
    # tree.png: the group with finer groups inside (AB), opened.
    assert window.current_ref() == f"g{photo_library.coarse['AB']}" and window.tree.isExpanded(window.model.index(
        window.model.rowCount() - 1 if window.model.item(0, 0).text() == "Cleo" else 0, 0))
