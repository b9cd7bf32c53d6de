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
REAP_MS = 100  # how often a finished job's process is checked until it has exited


def _throttled(out, stage: str):
    """A progress callback that sends at most 20 updates a second: one per photo would flood the window."""
    import time

    last = [0.0]

    def progress(*args) -> None:
        stage_name, done, total = args if len(args) == 3 else (stage, *args)
        now = time.monotonic()
        if done >= total or now - last[0] > 0.05:
            last[0] = now
            out.put(("progress", stage_name, done, total))

    return progress


def _run_index(out, cancel, library_path: str, folder: str, mode: str, workers: int | None) -> None:
    from ..jobs import index_folder
    from ..store import Library
    from ..vision import EncoderSpec

    with Library(library_path) as library:
        return index_folder(library, folder, EncoderSpec.of(mode), workers=workers,
                            progress=_throttled(out, "index"), cancel=cancel, cluster=True)


def _run_export(out, cancel, library_path: str, destination: str, options: dict):
    from ..organize.export import export_albums
    from ..store import Library

    with Library(library_path, create=False) as library:
        return export_albums(library, Path(destination), progress=_throttled(out, "exporting"), cancel=cancel,
                             **options)


def _run(target, out, cancel, *args) -> None:
    """In the job process: run ``target`` and report through ``out`` as ("progress", stage, done, total),
    ("finished", result) or ("failed", message)."""
    try:
        out.put(("finished", target(out, cancel, *args)))
    except BaseException as exc:  # shown to the user in a dialog; the library stays as the job left it
        out.put(("failed", str(exc) or type(exc).__name__))


class Job(QObject):
    """One long job in a process of its own; progress and the result come back as signals."""

    progress = Signal(str, int, int)  # stage, done, total
    finished = Signal(object)  # what the job returned
    failed = Signal(str)

    def __init__(self, target, *args, name: str = "photo-grouper job", parent: QObject | None = None):
        super().__init__(parent)
        ctx = mp.get_context("spawn")
        self.queue = ctx.Queue()
        self.cancel_event = ctx.Event()
        self.process = ctx.Process(target=_run, name=name, args=(target, self.queue, self.cancel_event, *args))
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.reaper = QTimer(self)
        self.reaper.setInterval(REAP_MS)
        self.reaper.timeout.connect(self._reap)
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
            self.failed.emit(f"the job's process stopped unexpectedly (exit code {self.process.exitcode}); "
                             "what it saved is kept: run it again to resume")

    def _end(self) -> None:
        self.done = True
        self.timer.stop()
        self._reap()

    def _reap(self) -> None:
        """Collect the process once it has exited. After its last message it still takes a moment (torch and
        dlib tearing down): joining it there froze the window for over a second at the end of every index."""
        self.process.join(0)
        if self.process.is_alive():
            self.reaper.start()
        else:
            self.reaper.stop()


class IndexJob(Job):
    """Index (scan, detect, embed, group) one folder into a library."""

    def __init__(self, library_path: Path, folder: Path, mode: str = "faces", workers: int | None = None,
                 parent: QObject | None = None):
        super().__init__(_run_index, str(library_path), str(folder), mode, workers, name="photo-grouper index",
                         parent=parent)


class ExportJob(Job):
    """Export albums (organize/export.py); ``options`` are export_albums' keyword arguments."""

    def __init__(self, library_path: Path, destination: Path, options: dict, parent: QObject | None = None):
        super().__init__(_run_export, str(library_path), str(destination), options, name="photo-grouper export",
                         parent=parent)
