"""The Qt binding itself: PySide6 6.12.0 took one reference from True at every signal delivered to Python, so a
window crashed ("deallocating True or False") after a few thousand signals (measured here: the thumbnail grid
died scrolling 10,000 faces). pyproject pins a release without that; this test keeps it so."""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage


class Emitter(QObject):
    text = Signal(str)
    image = Signal(str, QImage, str)


def test_delivering_signals_to_python_leaves_reference_counts_alone(qapp):
    e = Emitter()
    got = []
    e.text.connect(got.append)
    e.image.connect(lambda key, image, error: got.append(key))
    image = QImage(8, 8, QImage.Format.Format_RGB888)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):
        e.text.emit("a")
        e.image.emit("b", image, "")
    assert len(got) == 1000
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
