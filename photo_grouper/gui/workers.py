"""Long jobs in a separate process: the window gets progress and the result through a queue it polls, so no
Python lock held by the job (C extensions, imports, SQLite commits) ever stalls the event loop.

One job at a time writes to the library, as DESIGN.md asks. The process is started with "spawn", like the
index pipeline's own workers, so it shares nothing with Qt.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 30


def _run_index(library_path: str, folder: str, mode: str, workers: int | None, out, cancel) -> None:
    """In the job process: index and report through ``out`` as ("progress", stage, done, total),
    ("finished", report) or ("failed", message)."""
    import time

    from ..jobs import index_folder
    from ..store import Library
    from ..vision import EncoderSpec

    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()  # at most 20 updates a second: one per photo would flood the window
        if done >= total or now - last[0] > 0.05:
            last[0] = now
            out.put(("progress", stage, done, total))

    try:
        with Library(library_path) as library:
            report = index_folder(library, folder, EncoderSpec.of(mode), workers=workers, progress=progress,
                                  cancel=cancel, cluster=True)
        out.put(("finished", report))
    except BaseException as exc:  # shown to the user in a dialog; the library stays as the job left it
        out.put(("failed", str(exc) or type(exc).__name__))


class IndexJob(QObject):
    """Index (scan, detect, embed, group) one folder into a library, in a job process."""

    progress = Signal(str, int, int)  # stage, done, total
    finished = Signal(object)  # the IndexReport
    failed = Signal(str)

    def __init__(self, library_path: Path, folder: Path, mode: str = "faces", workers: int | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        ctx = mp.get_context("spawn")
        self.queue = ctx.Queue()
        self.cancel_event = ctx.Event()
        self.process = ctx.Process(target=_run_index, name="photo-grouper index",
                                   args=(str(library_path), str(folder), mode, workers, self.queue,
                                         self.cancel_event))
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.done = False

    def start(self) -> None:
        self.process.start()
        self.timer.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> None:
        self.process.join(timeout)

    def _poll(self) -> None:
        for _ in range(100):  # a bounded batch per tick keeps each tick short
            try:
                message = self.queue.get_nowait()
            except queue.Empty:
                break
            if message[0] == "progress":
                self.progress.emit(*message[1:])
            else:
                self._end()
                (self.finished if message[0] == "finished" else self.failed).emit(message[1])
                return
        if not self.process.is_alive() and self.queue.empty() and not self.done:
            self._end()
            self.failed.emit(f"the index process stopped unexpectedly (exit code {self.process.exitcode}); "
                             "what it saved is kept: index again to resume")

    def _end(self) -> None:
        self.done = True
        self.timer.stop()
        self.process.join(5)
