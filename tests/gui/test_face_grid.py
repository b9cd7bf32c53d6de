"""The thumbnail grid: the selected group's faces, thumbnails made in the thread pool and cached on disk by content
hash, icon size zoom kept in the settings, double-click opens the photo with the face box."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402

from photo_grouper.gui.main_window import MainWindow  # noqa: E402
from photo_grouper.media.thumbnails import ThumbnailCache, crop_rect  # noqa: E402


def open_window(qtbot, photo_library, tmp_path):
    photo_library.library.close()
    window = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(window)
    window.show()
    return window


def wait_thumbnails(qtbot, window):
    for row in range(window.faces.rowCount()):  # as the view would, for rows on screen
        window.faces.data(window.faces.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: not window.loader.is_loading(), timeout=20_000)


def test_selecting_a_group_shows_its_faces_with_cached_thumbnails(qtbot, photo_library, tmp_path):
    window = open_window(qtbot, photo_library, tmp_path)
    # The first listed group (AB, 7 faces) is selected on opening.
    assert window.current_ref() == f"g{photo_library.coarse['AB']}"
    assert window.faces.rowCount() == 7 and "7 face(s)" in window.grid_title.text()
    wait_thumbnails(qtbot, window)
    pixmaps = [window.faces.data(window.faces.index(r), Qt.ItemDataRole.DecorationRole) for r in range(7)]
    # Crops around the face, at most the cached 256 pixels (a small photo's crop is never enlarged).
    assert all(p is not None and 50 < min(p.width(), p.height()) <= max(p.width(), p.height()) <= 256
               for p in pixmaps)
    # AB's 7 faces, and C's representative face for its row in the tree (asked once the tree has painted)
    qtbot.waitUntil(lambda: len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 8, timeout=20_000)
    cached = sorted((tmp_path / "thumbs").rglob("*.jpg"))
    stamps = {p: p.stat().st_mtime_ns for p in cached}

    # Choosing the other group and coming back: the disk cache is used, nothing is made again.
    window.select_ref_row(1)
    assert window.faces.rowCount() == 2
    wait_thumbnails(qtbot, window)
    window.select_ref_row(0)
    wait_thumbnails(qtbot, window)
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 9


def test_thumbnail_key_follows_the_content_not_the_path(tmp_path, faces_data):
    cache = ThumbnailCache(tmp_path)
    box = (0.25, 0.3, 0.5, 0.45)
    assert cache.path_for("abc", box) == cache.path_for("abc", box)
    assert cache.path_for("abc", box) != cache.path_for("abd", box)
    assert cache.path_for("abc", box) != cache.path_for("abc", None)
    # A face crop is the box grown by the margin, kept inside the photo.
    assert crop_rect((0.4, 0.4, 0.2, 0.2), 100, 100) == (34, 34, 66, 66)  # 20 px + 2 x 30%, same centre
    assert crop_rect((0.0, 0.0, 0.2, 0.2), 100, 100) == (0, 0, 32, 32)  # shifted inside the photo
    assert crop_rect(None, 30, 20) == (0, 0, 30, 20)


def test_unreadable_photo_leaves_a_placeholder_and_says_why(qtbot, photo_library, tmp_path):
    from sqlalchemy import select

    from photo_grouper.store import Detection, Photo

    broken_face = photo_library.faces[("B", 2)]
    with photo_library.library.session() as s:
        broken = s.scalar(select(Photo.path).join(Detection, Detection.photo_id == Photo.id)
                          .where(Detection.id == broken_face))
    with open(broken, "wb") as f:
        f.write(b"not a jpeg")
    window = open_window(qtbot, photo_library, tmp_path)
    wait_thumbnails(qtbot, window)
    row = next(r for r, m in enumerate(window.faces.members) if m.detection_id == broken_face)
    index = window.faces.index(row)
    assert window.faces.data(index, Qt.ItemDataRole.DecorationRole) is None
    assert "not an image" in window.faces.data(index, Qt.ItemDataRole.ToolTipRole)
    others = [window.faces.data(window.faces.index(r), Qt.ItemDataRole.DecorationRole)
              for r in range(window.faces.rowCount()) if r != row]
    assert all(p is not None for p in others)


def test_thumbnail_size_zooms_with_ctrl_wheel_and_is_remembered(qtbot, photo_library, tmp_path):
    window = open_window(qtbot, photo_library, tmp_path)
    before = window.grid.side()
    wheel = QWheelEvent(QPointF(10, 10), QPointF(10, 10), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    window.grid.wheelEvent(wheel)
    assert window.grid.side() == before + 16 and window.thumb_size.value() == before + 16
    window.thumb_size.setValue(64)
    assert window.grid.iconSize().width() == 64
    window.close()
    again = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs")
    qtbot.addWidget(again)
    assert again.grid.side() == 64


def test_double_click_opens_the_photo_with_the_face_box(qtbot, photo_library, tmp_path):
    window = open_window(qtbot, photo_library, tmp_path)
    index = window.faces.index(2)
    qtbot.waitUntil(lambda: window.grid.visualRect(index).isValid())  # laid out in batches
    rect = window.grid.visualRect(index)
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert len(window.viewers) == 1
    viewer = window.viewers[0]
    qtbot.waitUntil(lambda: not viewer.canvas.image.isNull(), timeout=10_000)
    assert viewer.member.detection_id == window.faces.members[2].detection_id
    image, box = viewer.canvas.image_rect(), viewer.canvas.box_rect()
    assert image.contains(box) and 0.4 < box.width() / image.width() < 0.6  # the stored box, 0.5 wide
    viewer.close()



def test_a_whole_photo_is_shown_without_a_frame(qtbot):
    from photo_grouper.gui.photo_viewer import PhotoCanvas

    # Species mode's items are whole photos: nothing to mark. A face's box is drawn.
    assert PhotoCanvas((0.0, 0.0, 1.0, 1.0)).box is None
    assert PhotoCanvas((0.1, 0.2, 0.3, 0.3)).box == (0.1, 0.2, 0.3, 0.3)


def test_tree_shows_representative_faces_and_faces_at_the_leaves(qtbot, photo_library, tmp_path):
    from photo_grouper.gui.group_tree import FACE_ROLE, REF_ROLE, pending

    window = open_window(qtbot, photo_library, tmp_path)
    qtbot.waitUntil(lambda: not window.loader.is_loading(), timeout=20_000)
    tops = [window.model.item(r, 0) for r in range(window.model.rowCount())]
    # Each group's representative face (not the blank icon that holds its place until the thumbnail is made).
    assert all(item.icon().cacheKey() != window._blank_icon.cacheKey() for item in tops)
    ab = next(i for i in tops if i.data(REF_ROLE) == f"g{photo_library.coarse['AB']}")
    assert pending(ab) == "groups"  # its finer groups are built when it is opened
    window.tree.expand(ab.index())
    qtbot.waitUntil(lambda: pending(ab) is None)
    a = next(ab.child(r, 0) for r in range(ab.rowCount())
             if ab.child(r, 0).data(REF_ROLE) == f"g{photo_library.fine['A']}")
    assert a.rowCount() == 0 and pending(a) == "faces"  # made when it is opened
    window.tree.expand(a.index())
    qtbot.waitUntil(lambda: pending(a) is None)
    faces = [a.child(r, 0).data(FACE_ROLE) for r in range(a.rowCount())]
    assert sorted(faces) == sorted(photo_library.faces[("A", i)] for i in range(4))
    qtbot.waitUntil(lambda: not window.loader.is_loading(), timeout=20_000)
    assert not a.child(0, 0).icon().isNull()

    # Faces chosen at the leaves split off like faces chosen in the grid.
    window.grid.clearSelection()
    from PySide6.QtCore import QItemSelectionModel

    window.tree.selectionModel().select(a.child(0, 0).index(), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                        | QItemSelectionModel.SelectionFlag.Rows)
    window.split_action.trigger()
    assert sorted(int(window.model.item(r, 1).text()) for r in range(window.model.rowCount())) == [1, 2, 6]


def test_ctrl_wheel_over_the_tree_zooms_the_hierarchy(qtbot, photo_library, tmp_path):
    from PySide6.QtWidgets import QApplication

    window = open_window(qtbot, photo_library, tmp_path)
    assert window.zoom.value() == 1 and window.model.rowCount() == 2

    def wheel(dy):
        event = QWheelEvent(QPointF(20, 20), window.tree.viewport().mapToGlobal(QPointF(20, 20)), QPoint(0, 0),
                            QPoint(0, dy), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(window.tree.viewport(), event)

    wheel(120)  # forward: zoom in, finer groups
    assert window.zoom.value() == 0 and window.model.rowCount() == 3
    wheel(-120)
    assert window.zoom.value() == 1 and window.model.rowCount() == 2
