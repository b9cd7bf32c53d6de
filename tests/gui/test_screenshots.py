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
    # ...its finer groups built and the first opened down to its faces, each row with its face as icon.
    from photo_grouper.gui.group_tree import FACE_ROLE, LEAF_ROLE, REF_ROLE

    ab = next(window.model.item(r, 0) for r in range(window.model.rowCount())
              if window.model.item(r, 0).data(REF_ROLE) == f"g{photo_library.coarse['AB']}")
    first = ab.child(0, 0)
    assert not first.data(LEAF_ROLE) and first.child(0, 0).data(FACE_ROLE) is not None
    assert all(not row.icon().isNull() and row.icon().cacheKey() != window._blank_icon.cacheKey()
               for row in (ab, first, first.child(0, 0)))
