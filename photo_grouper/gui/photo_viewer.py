"""The photo of a face, with the face's box drawn on it (double-click a thumbnail). The photo is decoded on a
background thread, so a 50-megapixel file never stalls the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from ..media.images import ImageError, load_upright
from ..organize.view import Member
from ..vision.base import WHOLE_PHOTO
from .background import Background

VIEW_SIDE = 2048  # decoded size: more than a screen needs


def _decode(path: Path) -> tuple[QImage, str]:
    """On a worker thread: the photo, upright, at most VIEW_SIDE pixels a side."""
    try:
        im = load_upright(path, VIEW_SIDE)
    except (ImageError, OSError) as exc:
        return QImage(), str(exc)
    data = im.tobytes("raw", "RGB")
    return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy(), ""


class PhotoCanvas(QWidget):
    def __init__(self, box: tuple[float, float, float, float] | None):
        super().__init__()
        self.image = QImage()
        # A whole photo (species mode) has nothing to mark: a frame around all of it would only hide its edge.
        self.box = None if box is not None and tuple(box) == WHOLE_PHOTO else box
        self.setMinimumSize(320, 240)

    def image_rect(self) -> QRectF:
        if self.image.isNull():
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def box_rect(self) -> QRectF:
        """The face box in widget coordinates."""
        r = self.image_rect()
        if self.box is None or r.isNull():
            return QRectF()
        x, y, w, h = self.box
        return QRectF(r.x() + x * r.width(), r.y() + y * r.height(), w * r.width(), h * r.height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 30))
        if self.image.isNull():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.image_rect(), self.image)
        if self.box is not None:
            painter.setPen(QPen(QColor(255, 210, 0), 3))
            painter.drawRect(self.box_rect())


class PhotoViewer(QDialog):
    loaded = Signal()

    def __init__(self, member: Member, parent: QWidget | None = None):
        super().__init__(parent)
        self.member = member
        self.setWindowTitle(Path(member.photo).name)
        self.canvas = PhotoCanvas(member.box)
        self.caption = QLabel(f"{member.photo} — loading…")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        self.resize(900, 700)
        self.background = Background(threads=1, parent=self)
        path = Path(member.photo)
        self.background.submit(lambda: _decode(path), self._on_decoded)

    def _on_decoded(self, result: tuple[QImage, str] | None, exc: BaseException | None) -> None:
        image, error = result if exc is None else (QImage(), f"cannot show the photo: {exc}")
        if image.isNull():
            self.caption.setText(f"{self.member.photo}: {error}")
        else:
            self.canvas.image = image
            self.caption.setText(f"{self.member.photo} ({self.member.status})")
            self.canvas.update()
        self.loaded.emit()
