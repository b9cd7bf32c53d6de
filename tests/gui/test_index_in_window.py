"""Indexing from the window: a real index job on shared photos runs on a worker thread with progress, the event
loop never stalls for more than 100 ms, Cancel stops it cleanly, and the groups appear when it ends."""

import os
import shutil
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402

from photo_grouper.gui.main_window import MainWindow  # noqa: E402

from ..conftest import collage, copy_identities  # noqa: E402

PEOPLE = ["celeb-07209", "celeb-07213", "celeb-07225"]


class GapRecorder:
    """A 10 ms timer on the event loop: the longest time between two of its ticks is the longest stall."""

    def __init__(self):
        self.last = time.monotonic()
        self.longest = 0.0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self):
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now


def open_window(qtbot, tmp_path, faces_data):
    """A window with a new library, and a folder of 24 shared photos to index."""
    photos = tmp_path / "photos"
    copy_identities(faces_data, photos, PEOPLE, per=8)
    window = MainWindow(None)
    window.library_path = tmp_path / "lib.sqlite3"
    qtbot.addWidget(window)
    window.show()
    return window, photos


def test_index_runs_in_the_background_and_the_groups_appear(qtbot, tmp_path, faces_data):
    window, photos = open_window(qtbot, tmp_path, faces_data)
    stages = []
    gaps = GapRecorder()
    job = window.start_index(photos, workers=1)
    job.progress.connect(lambda stage, done, total: stages.append((stage, done, total)))
    with qtbot.waitSignal(job.finished, timeout=180_000):
        pass
    gaps.timer.stop()
    assert {"scan", "analyse", "check"} <= {s for s, _, _ in stages}
    assert ("analyse", 24, 24) in stages
    # The grouping reports thousandths of its work, shown as a percentage.
    assert ("cluster", 1000, 1000) in stages and {t for s, _, t in stages if s == "cluster"} == {1000}
    assert gaps.longest < 0.1, f"the event loop stalled for {gaps.longest * 1000:.0f} ms"
    assert window.model.rowCount() >= 3 and window.job is None
    assert "Indexed" in window.statusBar().currentMessage()
    assert not window.cancel_button.isVisible()
    window._on_progress("cluster", 250, 1000)
    assert window.progress_text.text().startswith("cluster: 25%")  # then the time left, if known


def test_the_status_says_when_copies_were_grouped_with_their_photo(qtbot, tmp_path, faces_data):
    photos = tmp_path / "photos"
    first = copy_identities(faces_data, photos, PEOPLE[:2], per=6)[0]
    (photos / "backup").mkdir()
    for i in range(3):
        shutil.copy2(first, photos / "backup" / f"copy{i}.jpg")
    assert _status_after_indexing(qtbot, tmp_path, photos).endswith("; 3 copies of a photo grouped with it")


def test_the_status_says_how_many_boxes_the_face_check_left_out(qtbot, tmp_path, faces_data):
    photos = tmp_path / "photos"
    copy_identities(faces_data, photos, PEOPLE[:2], per=4)
    # Its person's face, and a sign the detector boxed as a face (tests/test_face_check.py).
    shutil.copy2(faces_data / "celeb-07493" / "153672.jpg", photos / "sign.jpg")
    assert "; 1 box(es) that are not faces left out" in _status_after_indexing(qtbot, tmp_path, photos)


def test_the_status_says_when_groups_were_parted_for_two_faces_of_one_photo(qtbot, tmp_path, faces_data):
    photos = tmp_path / "photos"
    mine = copy_identities(faces_data, photos, PEOPLE[:2], per=8)[:2]
    collage(mine, photos / "collage.jpg")  # two photos of one person side by side: two faces in one photo
    status = _status_after_indexing(qtbot, tmp_path, photos)
    assert status.endswith("group(s) parted that held two faces of one photo")


def _status_after_indexing(qtbot, tmp_path, photos) -> str:
    """The status line of a new window once it has indexed ``photos`` into a new library."""
    window = MainWindow(None)
    window.library_path = tmp_path / "lib.sqlite3"
    qtbot.addWidget(window)
    job = window.start_index(photos, workers=1)
    with qtbot.waitSignal(job.finished, timeout=180_000):
        pass
    return window.statusBar().currentMessage()


def test_cancel_stops_the_job_and_keeps_what_was_done(qtbot, tmp_path, faces_data):
    window, photos = open_window(qtbot, tmp_path, faces_data)
    job = window.start_index(photos, workers=1)
    assert window.cancel_button.isVisible() and not window.index_action.isEnabled()
    with qtbot.waitSignal(job.progress, timeout=60_000, check_params_cb=lambda stage, d, t: stage == "analyse"):
        pass
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(job.finished, timeout=120_000) as blocker:
        pass
    assert blocker.args[0].status == "cancelled"
    assert "Cancelled" in window.statusBar().currentMessage() and window.index_action.isEnabled()


def test_the_status_says_how_many_faces_were_suggested_and_how_to_confirm_them(qtbot, photo_library):
    from photo_grouper.jobs import IndexReport

    photo_library.library.close()
    window = MainWindow(photo_library.library.path)
    qtbot.addWidget(window)
    window._on_indexed(IndexReport("/photos", "faces", "test", status="completed",
                                   cluster={"items": 9, "groups": 2, "levels": 2, "seconds": 0.1, "suggested": 4,
                                            "new_suggested": 3}))
    assert window.statusBar().currentMessage().endswith("; 3 new face(s) suggested to your people, 4 waiting in all "
                                                        "(Edit > Confirm suggested)")


def test_the_status_says_where_a_gpu_ran_out_of_memory(qtbot, photo_library):
    from photo_grouper.jobs import AnalyseReport, IndexReport

    photo_library.library.close()
    window = MainWindow(photo_library.library.path)
    qtbot.addWidget(window)
    window._on_indexed(IndexReport(
        "/photos", "species", "test", status="completed",
        analyse=AnalyseReport(found=9, fallback="the GPU ran out of memory: embedded on the CPU instead"),
        cluster={"items": 9, "groups": 2, "levels": 2, "seconds": 0.1,
                 "fallback": "the GPU ran out of memory: grouped on the CPU instead"}))
    notes = window.statusBar().currentMessage().split("; ")
    assert notes[0].startswith("Indexed /photos: 9 found in")
    assert notes[1:] == ["the GPU ran out of memory: embedded on the CPU instead",
                         "the GPU ran out of memory: grouped on the CPU instead"]
