"""The photo of a face, with the face's box drawn on it (double-click a thumbnail). The photo is decoded in the
thread pool, so a 50-megapixel file never stalls the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRectF, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from ..media.images import ImageError, load_upright
from ..organize.view import Member

VIEW_SIDE = 2048  # decoded size: more than a screen needs


class _Decoded(QObject):
    done = Signal(QImage, str)


class _Decode(QRunnable):
    def __init__(self, path: Path, signals: _Decoded):
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        try:
            im = load_upright(self.path, VIEW_SIDE)
            data = im.tobytes("raw", "RGB")
            image = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()
            self.signals.done.emit(image, "")
        except (ImageError, OSError) as exc:
            self.signals.done.emit(QImage(), str(exc))


class PhotoCanvas(QWidget):
    def __init__(self, box: tuple[float, float, float, float] | None):
        super().__init__()
        self.image = QImage()
        self.box = box
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
        self._signals = _Decoded()
        self._signals.done.connect(self._on_decoded)
        QThreadPool.globalInstance().start(_Decode(Path(member.photo), self._signals))

    def _on_decoded(self, image: QImage, error: str) -> None:
        if image.isNull():
            self.caption.setText(f"{self.member.photo}: {error}")
        else:
            self.canvas.image = image
            self.caption.setText(f"{self.member.photo} ({self.member.status})")
            self.canvas.update()
        self.loaded.emit()
