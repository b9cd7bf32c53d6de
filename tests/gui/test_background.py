"""Background work for the window: newest request first, results (and errors) handed back on the GUI thread,
nothing more after shutdown, idle threads end."""

import threading
import time

from photo_grouper.gui import background as bg
from photo_grouper.gui.background import Background


def test_newest_request_runs_first_and_results_come_back_on_the_gui_thread(qtbot):
    work = Background(threads=1)
    gate = threading.Event()
    ran, delivered = [], []

    def job(name):
        def fn():
            if name == "first":
                gate.wait(10)
            ran.append(name)
            return name.upper()
        return fn

    def done(value, exc):
        delivered.append((value, exc, threading.current_thread() is threading.main_thread()))

    work.submit(job("first"), done)
    qtbot.waitUntil(lambda: work._idle == 0 and len(work._waiting) == 0, timeout=5000)  # "first" has started
    for name in ("a", "b", "c"):
        work.submit(job(name), done)
    assert work.outstanding() == 4
    gate.set()
    qtbot.waitUntil(lambda: work.outstanding() == 0, timeout=5000)
    assert ran == ["first", "c", "b", "a"]
    assert [v for v, _, _ in delivered] == ["FIRST", "C", "B", "A"]
    assert all(exc is None and on_gui for _, exc, on_gui in delivered)
    work.shutdown()


def test_an_error_is_handed_to_the_callback(qtbot):
    work = Background(threads=2)
    got = []
    work.submit(lambda: 1 / 0, lambda value, exc: got.append((value, exc)))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    assert got[0][0] is None and isinstance(got[0][1], ZeroDivisionError)
    work.shutdown()


def test_shutdown_drops_waiting_requests_and_delivers_nothing_more(qtbot):
    work = Background(threads=1)
    gate, started = threading.Event(), threading.Event()
    ran, delivered = [], []

    def slow():
        started.set()
        gate.wait(10)
        ran.append("slow")

    work.submit(slow, lambda v, e: delivered.append("slow"))
    assert started.wait(5)
    work.submit(lambda: ran.append("queued"), lambda v, e: delivered.append("queued"))
    threading.Timer(0.2, gate.set).start()
    work.shutdown(timeout=5)  # waits for "slow", drops "queued"
    assert ran == ["slow"]
    qtbot.wait(100)
    work.deliver()
    assert delivered == [] and work.outstanding() == 0
    assert work.submit(lambda: ran.append("late"), lambda v, e: None) is False


def test_threads_end_when_idle(qtbot, monkeypatch):
    monkeypatch.setattr(bg, "IDLE_S", 0.05)
    work = Background(threads=3)
    for _ in range(6):
        work.submit(lambda: time.sleep(0.01), lambda v, e: None)
    assert 1 <= len(work._running) <= 3
    qtbot.waitUntil(lambda: work.outstanding() == 0, timeout=5000)
    deadline = time.monotonic() + 5
    while work._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert work._running == []
    # And a later request starts a thread again.
    got = []
    work.submit(lambda: 7, lambda v, e: got.append(v))
    qtbot.waitUntil(lambda: got == [7], timeout=5000)
    work.shutdown()


def test_windows_closed_and_collected_while_thumbnails_load_do_not_crash(qtbot, photo_library, tmp_path):
    """Where the segfault of 2026-11-29 struck (a window's objects collected on the GUI thread while thumbnail
    threads ran): open windows, ask for every thumbnail, close and collect them at once, many times, with fresh
    caches so the threads are busy making crops. (It did not reproduce the crash with the old QRunnable loader in
    5 runs; it guards the window's close path under load, which the new threads must get right.)"""
    import gc

    from PySide6.QtCore import Qt

    from photo_grouper.gui.main_window import MainWindow

    photo_library.library.close()
    for i in range(12):
        window = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / f"thumbs{i}")
        window.show()
        for row in range(window.faces.rowCount()):
            window.faces.data(window.faces.index(row), Qt.ItemDataRole.DecorationRole)
        assert window.loader.is_loading()
        qtbot.wait(i % 3 * 5)  # close before, while and after the first crops arrive
        window.close()
        del window
        gc.collect()
    # After all that, a window still gets every thumbnail.
    window = MainWindow(photo_library.library.path, thumbnail_dir=tmp_path / "thumbs-last")
    qtbot.addWidget(window)
    window.show()
    index = [window.faces.index(row) for row in range(window.faces.rowCount())]
    for i in index:
        window.faces.data(i, Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: not window.loader.is_loading(), timeout=20_000)
    assert index and all(window.faces.data(i, Qt.ItemDataRole.DecorationRole) is not None for i in index)
