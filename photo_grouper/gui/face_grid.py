"""The thumbnail grid of the selected group's faces: a list model whose thumbnails are made lazily, only for the
rows the view paints, on background threads, from the disk cache (media/thumbnails.py)."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from ..media.images import ImageError
from ..media.thumbnails import ThumbnailCache
from ..organize.view import Member
from .background import Background

FACES_MIME = "application/x-photo-grouper-faces"
MEMBER_ROLE = Qt.ItemDataRole.UserRole + 10
STATUS_COLOURS = {"confirmed": QColor(46, 160, 67), "suggested": QColor(230, 150, 20)}
MEMORY_PIXMAPS = 3000  # thumbnails kept in memory (a few screens' worth); the disk cache holds the rest


def _make_thumbnail(cache: ThumbnailCache, m: Member) -> tuple[QImage, str]:
    """On a worker thread: the crop from the disk cache (made there first if need be), read into a QImage."""
    try:
        path = cache.get(Path(m.photo), m.content_hash, m.box, m.photo_size)
    except (ImageError, OSError) as exc:
        return QImage(), str(exc)
    image = QImage(str(path))
    return image, "" if not image.isNull() else f"cannot read {path}"


class ThumbnailLoader(QObject):
    """Thumbnails for any view: made on background threads (newest requests first), kept in memory for the
    last few screens, on disk for good. ``ready(key)`` says a thumbnail (or its failure) has arrived."""

    ready = Signal(str)

    def __init__(self, cache: ThumbnailCache, parent: QObject | None = None):
        super().__init__(parent)
        self.cache = cache
        self.background = Background(parent=self)  # its own: shutdown() drops the queued thumbnails only
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: dict[str, str] = {}
        self._pending: set[str] = set()
        self.requested = 0  # thumbnails asked for so far (lazy loading asks only for what is shown)

    @staticmethod
    def key(m: Member) -> str:
        return f"{m.content_hash}|{m.box}"

    def pixmap(self, m: Member) -> QPixmap | None:
        """The thumbnail if it is ready; otherwise None, and it is on its way."""
        key = self.key(m)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if key not in self._pending and key not in self._failed:
            cache = self.cache
            if self.background.submit(lambda: _make_thumbnail(cache, m),
                                      lambda result, exc: self._on_loaded(key, result, exc)):
                self._pending.add(key)
                self.requested += 1
        return None

    def cached(self, key: str) -> QPixmap | None:
        return self._pixmaps.get(key)

    def error(self, m: Member) -> str | None:
        return self._failed.get(self.key(m))

    def _on_loaded(self, key: str, result: tuple[QImage, str] | None, exc: BaseException | None) -> None:
        image, error = result if exc is None else (QImage(), f"cannot make the thumbnail: {exc}")
        self._pending.discard(key)
        if image.isNull():
            self._failed[key] = error
        else:
            self._pixmaps[key] = QPixmap.fromImage(image)
            while len(self._pixmaps) > MEMORY_PIXMAPS:
                self._pixmaps.popitem(last=False)
        self.ready.emit(key)

    def is_loading(self) -> bool:
        return bool(self._pending)

    def shutdown(self) -> None:
        """Drop the thumbnails not started yet and wait (briefly) for the ones being made."""
        self.background.shutdown()
        self._pending.clear()


class FaceListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.loader = loader
        self.members: list[Member] = []
        self.group_ref: str | None = None
        self._rows_of: dict[str, list[int]] = {}
        self.unit = "face"  # what a member is, as screen readers say it ("photo" in species mode)
        loader.ready.connect(self._on_ready)

    def set_members(self, group_ref: str | None, members: list[Member]) -> None:
        self.beginResetModel()
        self.group_ref, self.members = group_ref, members
        self._rows_of = {}
        for row, m in enumerate(members):
            self._rows_of.setdefault(self.loader.key(m), []).append(row)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.members)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        m = self.members[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.pixmap(m)
        if role == Qt.ItemDataRole.ToolTipRole:
            error = self.loader.error(m)
            return f"{m.photo}\n{m.status}" + (f" (finer group {m.subgroup})" if m.subgroup else "") + \
                (f"\n{error}" if error else "")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self.unit} {m.detection_id}, {m.status}"
        if role == MEMBER_ROLE:
            return m
        return None

    def flags(self, index: QModelIndex):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [FACES_MIME]

    def mimeData(self, indexes) -> QMimeData:
        data = QMimeData()
        faces = sorted({self.members[i.row()].detection_id for i in indexes if i.isValid()})
        data.setData(FACES_MIME, json.dumps({"from": self.group_ref, "faces": faces}).encode())
        return data

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    def _on_ready(self, key: str) -> None:
        for row in self._rows_of.get(key, []):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class FaceDelegate(QStyledItemDelegate):
    """A square thumbnail with a frame that says whose it is: green confirmed, orange suggested."""

    def __init__(self, view: QListView):
        super().__init__(view)
        self.view = view

    def sizeHint(self, option, index) -> QSize:
        side = self.view.iconSize().width()
        return QSize(side + 8, side + 8)

    def paint(self, painter: QPainter, option, index) -> None:
        painter.save()
        rect = option.rect.adjusted(2, 2, -2, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is not None:
            scaled = pixmap.scaled(rect.size() - QSize(4, 4), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            x = rect.x() + (rect.width() - scaled.width()) // 2
            y = rect.y() + (rect.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
        else:
            painter.fillRect(rect.adjusted(2, 2, -2, -2), option.palette.midlight())
        member = index.data(MEMBER_ROLE)
        colour = STATUS_COLOURS.get(member.status) if member is not None else None
        if colour is not None:
            pen = QPen(colour, 3)
            if member.status == "suggested":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(QRect(rect).adjusted(1, 1, -2, -2))
        painter.restore()


class FaceGrid(QListView):
    """Icon-mode list of the faces; Ctrl+wheel changes the thumbnail size."""

    zoomed = Signal(int)
    MIN_SIDE, MAX_SIDE = 48, 256

    def __init__(self, model: FaceListModel, side: int = 112):
        super().__init__()
        self.setModel(model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # layout of 10,000 items without asking each one its size
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setItemDelegate(FaceDelegate(self))
        self.set_side(side)

    def set_side(self, side: int) -> None:
        side = max(self.MIN_SIDE, min(self.MAX_SIDE, int(side)))
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 8, side + 8))
        self.zoomed.emit(side)

    def side(self) -> int:
        return self.iconSize().width()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 16 if event.angleDelta().y() > 0 else -16
            self.set_side(self.side() + step)
            event.accept()
            return
        super().wheelEvent(event)

    def selected_members(self) -> list[Member]:
        return [i.data(MEMBER_ROLE) for i in sorted(self.selectedIndexes(), key=lambda i: i.row())]
